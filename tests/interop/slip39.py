#!/usr/bin/env python3
"""An independent SLIP-0039 implementation (stdlib only) for interop tests of hsmctl's shares.

Written from the SLIP-0039 specification (see tests/vectors/slip39/README.md), never from
hsmctl's C++ code, so that a shared misreading cannot hide; test use only: secrets pass through ordinary Python memory.

  slip39.py combine [--passphrase P] FILE...      prints the master secret (hex)
  slip39.py split --threshold M --count N --secret-hex HEX [--extendable]
                  [--iteration-exponent E] [--passphrase P] --out-dir DIR --names a,b,c
  slip39.py selftest VECTORS.json                 prints "N passed, M failed"
  slip39.py info FILE                             prints each share's fields (no secret)
  slip39.py tamper-value FILE [--byte I] [--xor X] prints FILE's first share with one byte of its
                                                  value changed and a recomputed (valid) checksum
"""

import argparse
import json
import os
import secrets
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# the arithmetic (also used by run_interop_tests.sh through this module: interpolate, decrypt)
from slip39_math import (ID_BITS, MIN_SECRET_BITS, SECRET_INDEX, Slip39Error,  # noqa: F401
                         customization, decrypt, encrypt, interpolate, recover_secret,
                         rs1024_create_checksum, rs1024_verify_checksum, split_secret)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORDLIST = os.path.join(HERE, "..", "vectors", "slip39", "wordlist.txt")

RADIX_BITS = 10
CHECKSUM_WORDS = 3
METADATA_WORDS = 4 + CHECKSUM_WORDS  # id/ext/e (2 words), GI/Gt/g/I/t (2 words), checksum
MIN_MNEMONIC_WORDS = METADATA_WORDS + (MIN_SECRET_BITS + RADIX_BITS - 1) // RADIX_BITS


# ---------------------------------------------------------------- wordlist

def load_wordlist(path=None):
    path = path or os.environ.get("SLIP39_WORDLIST") or DEFAULT_WORDLIST
    with open(path, encoding="ascii") as f:
        words = [w.strip() for w in f if w.strip()]
    if len(words) != 1024 or words != sorted(words) or len(set(words)) != 1024:
        raise Slip39Error(f"{path}: not a 1024-word sorted wordlist")
    return words, {w: i for i, w in enumerate(words)}


WORDS, INDEX = None, None


def wordlist():
    global WORDS, INDEX
    if WORDS is None:
        WORDS, INDEX = load_wordlist()
    return WORDS, INDEX


# ---------------------------------------------------------------- share mnemonics

class Share:
    FIELDS = ("identifier", "extendable", "iteration_exponent", "group_index",
              "group_threshold", "group_count", "member_index", "member_threshold")

    def __init__(self, identifier, extendable, iteration_exponent, group_index, group_threshold,
                 group_count, member_index, member_threshold, value):
        # thresholds and counts are the actual values (1..16), not the encoded ones
        self.identifier = identifier
        self.extendable = extendable
        self.iteration_exponent = iteration_exponent
        self.group_index = group_index
        self.group_threshold = group_threshold
        self.group_count = group_count
        self.member_index = member_index
        self.member_threshold = member_threshold
        self.value = bytes(value)

    def common(self):
        return (self.identifier, self.extendable, self.iteration_exponent,
                self.group_threshold, self.group_count, len(self.value))

    def words(self):
        value_words = (len(self.value) * 8 + RADIX_BITS - 1) // RADIX_BITS
        acc = self.identifier
        for v, bits in ((self.extendable, 1), (self.iteration_exponent, 4), (self.group_index, 4),
                        (self.group_threshold - 1, 4), (self.group_count - 1, 4),
                        (self.member_index, 4), (self.member_threshold - 1, 4)):
            if not 0 <= v < (1 << bits):
                raise Slip39Error("share field out of range")
            acc = (acc << bits) | v
        acc = (acc << (value_words * RADIX_BITS)) | int.from_bytes(self.value, "big")
        n = 4 + value_words
        data = [(acc >> (RADIX_BITS * (n - 1 - i))) & 1023 for i in range(n)]
        return data + rs1024_create_checksum(customization(self.extendable), data)

    def mnemonic(self):
        words, _ = wordlist()
        return " ".join(words[i] for i in self.words())


def decode_mnemonic(mnemonic):
    _, index = wordlist()
    tokens = mnemonic.lower().split()
    data = []
    for pos, w in enumerate(tokens, 1):
        if w not in index:
            raise Slip39Error(f"word {pos} ({w!r}) is not in the SLIP-0039 wordlist")
        data.append(index[w])
    if len(data) < MIN_MNEMONIC_WORDS:
        raise Slip39Error(f"a share has at least {MIN_MNEMONIC_WORDS} words, this one {len(data)}")
    value_words = len(data) - METADATA_WORDS
    padding = (RADIX_BITS * value_words) % 16
    if padding > 8:
        raise Slip39Error("invalid mnemonic length (padding longer than 8 bits)")
    ext = (data[1] >> 4) & 1
    if not rs1024_verify_checksum(customization(ext), data):
        raise Slip39Error("invalid share checksum")
    acc = 0
    for v in data[:4]:
        acc = (acc << RADIX_BITS) | v
    identifier = acc >> 25
    fields = [(acc >> s) & 0xF for s in (20, 16, 12, 8, 4, 0)]
    e, gi, gt, g, mi, mt = fields
    gt, g, mt = gt + 1, g + 1, mt + 1
    if gt > g:
        raise Slip39Error("group threshold exceeds the group count")
    val = 0
    for v in data[4:-CHECKSUM_WORDS]:
        val = (val << RADIX_BITS) | v
    value_bytes = (RADIX_BITS * value_words - padding) // 8
    if val >> (value_bytes * 8):
        raise Slip39Error("invalid padding (non-zero padding bits)")
    if value_bytes * 8 < MIN_SECRET_BITS:
        raise Slip39Error("share value shorter than 128 bits")
    return Share(identifier, ext, e, gi, gt, g, mi, mt, val.to_bytes(value_bytes, "big"))


def combine_shares(shares, passphrase=b""):
    if not shares:
        raise Slip39Error("no shares given")
    first = shares[0]
    for s in shares[1:]:
        if s.common() != first.common():
            raise Slip39Error("shares do not belong together (identifier, extendable flag, iteration "
                              "exponent, group threshold, group count or length differ)")
    groups = {}
    for s in shares:
        groups.setdefault(s.group_index, []).append(s)
    if len(groups) < first.group_threshold:
        raise Slip39Error(f"insufficient number of groups: {len(groups)} of {first.group_threshold}")
    if len(groups) != first.group_threshold:
        raise Slip39Error(f"wrong number of groups: {len(groups)}, need exactly {first.group_threshold}")
    group_shares = []
    for gi, members in sorted(groups.items()):
        t = members[0].member_threshold
        if any(m.member_threshold != t for m in members):
            raise Slip39Error(f"group {gi}: member thresholds differ")
        idx = [m.member_index for m in members]
        if len(set(idx)) != len(idx):
            raise Slip39Error(f"group {gi}: duplicate member index")
        if len(members) != t:
            raise Slip39Error(f"group {gi}: {len(members)} shares, need exactly {t}")
        group_shares.append((gi, recover_secret(t, [(m.member_index, m.value) for m in members])))
    ems = recover_secret(first.group_threshold, group_shares)
    return decrypt(ems, passphrase, first.iteration_exponent, first.identifier, first.extendable)


def combine_mnemonics(mnemonics, passphrase=b""):
    return combine_shares([decode_mnemonic(m) for m in mnemonics], passphrase)


def generate_shares(threshold, count, ms, passphrase=b"", extendable=True, e=0):
    """A single group (GT = G = 1) split threshold-of-count, as the spec recommends."""
    if threshold == 1 and count > 1:
        raise Slip39Error("threshold 1 with more than one share: give one share to several people")
    if len(ms) * 8 < MIN_SECRET_BITS or len(ms) % 2:
        raise Slip39Error("the master secret must be at least 128 bits and a multiple of 16 bits")
    if not 0 <= e < 16:
        raise Slip39Error("iteration exponent must be 0..15")
    identifier = secrets.randbits(ID_BITS)
    ems = encrypt(ms, passphrase, e, identifier, int(extendable))
    (gi, group_value), = split_secret(1, 1, ems)
    return [Share(identifier, int(extendable), e, gi, 1, 1, mi, threshold, v)
            for mi, v in split_secret(threshold, count, group_value)]


# ---------------------------------------------------------------- command line

def read_mnemonics(paths):
    out = []
    for p in paths:
        with (sys.stdin if p == "-" else open(p, encoding="utf-8")) as f:
            out += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return out


def cmd_combine(a):
    print(combine_mnemonics(read_mnemonics(a.files), a.passphrase.encode()).hex())


def cmd_split(a):
    names = [n for n in a.names.split(",") if n]
    if len(names) != a.count:
        raise Slip39Error(f"--names gives {len(names)} names, --count is {a.count}")
    shares = generate_shares(a.threshold, a.count, bytes.fromhex(a.secret_hex),
                             a.passphrase.encode(), a.extendable, a.iteration_exponent)
    os.makedirs(a.out_dir, exist_ok=True)
    for name, share in zip(names, shares):
        fd = os.open(os.path.join(a.out_dir, name + ".share"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(share.mnemonic() + "\n")


def cmd_info(a):
    for m in read_mnemonics([a.file]):
        s = decode_mnemonic(m)
        print(json.dumps({k: getattr(s, k) for k in Share.FIELDS} | {"value_bits": len(s.value) * 8}))


def cmd_tamper_value(a):
    s = decode_mnemonic(read_mnemonics([a.file])[0])
    v = bytearray(s.value)
    v[a.byte] ^= a.xor
    s.value = bytes(v)
    print(s.mnemonic())


def cmd_selftest(a):
    with open(a.vectors, encoding="utf-8") as f:
        vectors = json.load(f)
    passed = failed = 0
    for desc, mnemonics, secret_hex, *_ in vectors:
        try:
            got = combine_mnemonics(mnemonics, b"TREZOR").hex()
            ok, why = (got == secret_hex), (f"got {got}" if secret_hex else "accepted an invalid set")
        except Slip39Error as err:
            ok, why = (secret_hex == ""), f"refused: {err}"
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {desc}: {why}")
    # and our own split: split then combine from different subsets, both ext values, 128/256 bits
    trips = 0
    for ext in (False, True):
        for n in (16, 32):
            ms = secrets.token_bytes(n)
            shares = generate_shares(3, 5, ms, b"TREZOR", ext, 0)
            ok = all(combine_shares(sub, b"TREZOR") == ms
                     for sub in (shares[:3], shares[2:], [shares[0], shares[2], shares[4]]))
            ok = ok and all(decode_mnemonic(s.mnemonic()).value == s.value for s in shares)
            if not ok:
                trips += 1
                print(f"FAIL split/combine round trip ext={ext} n={n}")
    print(f"split/combine round trips: {4 - trips} passed, {trips} failed")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or trips else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="slip39.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("combine")
    c.add_argument("--passphrase", default="")
    c.add_argument("files", nargs="+")
    c.set_defaults(fn=cmd_combine)
    s = sub.add_parser("split")
    s.add_argument("--threshold", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--secret-hex", required=True)
    s.add_argument("--extendable", action="store_true")
    s.add_argument("--iteration-exponent", type=int, default=0)
    s.add_argument("--passphrase", default="")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--names", required=True)
    s.set_defaults(fn=cmd_split)
    t = sub.add_parser("selftest")
    t.add_argument("vectors")
    t.set_defaults(fn=cmd_selftest)
    i = sub.add_parser("info")
    i.add_argument("file")
    i.set_defaults(fn=cmd_info)
    v = sub.add_parser("tamper-value")
    v.add_argument("file")
    v.add_argument("--byte", type=int, default=0)
    v.add_argument("--xor", type=lambda x: int(x, 0), default=1)
    v.set_defaults(fn=cmd_tamper_value)
    a = p.parse_args(argv)
    try:
        return a.fn(a) or 0
    except (Slip39Error, ValueError, OSError) as err:
        print(f"slip39.py: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
