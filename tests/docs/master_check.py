#!/usr/bin/env python3
"""Checks the claims of hsmctl-master(1) about shares from the share files alone, without
hsmctl: each share's commitment, and the KCV of the master secret that a quorum of them gives
under SLIP-0039 (empty passphrase). Written from the man page and the SLIP-0039 spec.

  master_check.py WORDLIST commitments FILE...   -> "NAME COMMITMENT" per file (NAME.share)
  master_check.py WORDLIST kcv FILE...           -> the 6 hex digits of the KCV
  master_check.py WORDLIST header FILE           -> identifier, extendable, exponent, threshold
"""
import hashlib
import hmac
import os
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def fail(message):
    sys.stderr.write("master_check: %s\n" % message)
    sys.exit(1)


# --- SLIP-0039 decoding --------------------------------------------------------------------
GEN = (0xE0E040, 0x1C1C080, 0x3838100, 0x7070200, 0xE0E0009,
       0x1C0C2412, 0x38086C24, 0x3090FC48, 0x21B1F890, 0x3F3F120)


def rs1024_polymod(values):
    chk = 1
    for v in values:
        b = chk >> 20
        chk = (chk & 0xFFFFF) << 10 ^ v
        for i in range(10):
            if (b >> i) & 1:
                chk ^= GEN[i]
    return chk


def parse(path, words):
    index = {w: i for i, w in enumerate(words)}
    with open(path) as f:
        text = f.readline().split()
    try:
        v = [index[w.lower()] for w in text]
    except KeyError as e:
        fail("%s: %s is not a SLIP-0039 word" % (path, e))
    n = 0
    for x in v:
        n = n << 10 | x
    bits = 10 * len(v)

    def take(offset, width):
        return (n >> (bits - offset - width)) & ((1 << width) - 1)

    share = {
        "identifier": take(0, 15), "extendable": take(15, 1), "exponent": take(16, 4),
        "group_index": take(20, 4), "group_threshold": take(24, 4) + 1,
        "group_count": take(28, 4) + 1, "member_index": take(32, 4),
        "member_threshold": take(36, 4) + 1,
    }
    custom = b"shamir_extendable" if share["extendable"] else b"shamir"
    if rs1024_polymod(list(custom) + v) != 1:
        fail("%s: checksum fails" % path)
    value_bits = bits - 40 - 30
    length = value_bits // 16 * 2
    padding = value_bits - 8 * length
    if take(40, padding) != 0:
        fail("%s: padding bits are not zero" % path)
    share["value"] = take(40 + padding, 8 * length).to_bytes(length, "big")
    return share


# --- GF(256) and interpolation (SLIP-0039, "Shamir's secret sharing") ------------------------
EXP, LOG = [0] * 255, [0] * 256
x = 1
for i in range(255):
    EXP[i], LOG[x] = x, i
    x = x << 1 ^ x  # multiply by 3
    if x & 0x100:
        x ^= 0x11B


def interpolate(points, at):
    xs = [p for p, _ in points]
    for p, y in points:
        if p == at:
            return y
    log_prod = sum(LOG[p ^ at] for p in xs)
    out = bytearray(len(points[0][1]))
    for p, y in points:
        log_basis = (log_prod - LOG[p ^ at] - sum(LOG[q ^ p] for q in xs if q != p)) % 255
        for k, b in enumerate(y):
            if b:
                out[k] ^= EXP[(LOG[b] + log_basis) % 255]
    return bytes(out)


def master_secret(shares, passphrase=b""):
    first = shares[0]
    if first["group_threshold"] != 1 or first["group_count"] != 1:
        fail("expected one group (group threshold 1 of 1)")
    t = first["member_threshold"]
    if len({s["member_index"] for s in shares}) < t:
        fail("fewer than %d distinct shares" % t)
    points = [(s["member_index"], s["value"]) for s in shares[:t]]
    if t == 1:
        ems = points[0][1]
    else:
        ems = interpolate(points, 255)
        digest = interpolate(points, 254)
        if hmac.new(digest[4:], ems, hashlib.sha256).digest()[:4] != digest[:4]:
            fail("the shares' digest does not match")
    # Feistel decryption, empty passphrase.
    half = len(ems) // 2
    left, right = ems[:half], ems[half:]
    salt = b"" if first["extendable"] else b"shamir" + first["identifier"].to_bytes(2, "big")
    iterations = (10000 << first["exponent"]) // 4
    for r in reversed(range(4)):
        f = hashlib.pbkdf2_hmac("sha256", bytes([r]) + passphrase, salt + right, iterations, half)
        left, right = right, bytes(a ^ b for a, b in zip(left, f))
    return right + left


def main():
    if len(sys.argv) < 4:
        fail("usage: master_check.py WORDLIST commitments|kcv|header FILE...")
    with open(sys.argv[1]) as f:
        words = f.read().split()
    if len(words) != 1024:
        fail("the wordlist has %d words, not 1024" % len(words))
    what, files = sys.argv[2], sys.argv[3:]
    shares = [parse(p, words) for p in files]
    if what == "commitments":
        for path, s in zip(files, shares):
            h = hashlib.sha256(b"hsmctl v1 share commitment" + s["identifier"].to_bytes(2, "big")
                               + bytes([s["group_index"], s["member_index"]]) + s["value"])
            print(os.path.basename(path)[:-len(".share")], h.hexdigest())
    elif what == "kcv":
        mk_wrap = hmac.new(master_secret(shares), b"hsmctl v1 wrap", hashlib.sha256).digest()
        enc = Cipher(algorithms.AES(mk_wrap), modes.ECB()).encryptor()
        print((enc.update(bytes(16)) + enc.finalize())[:3].hex())
    elif what == "header":
        s = shares[0]
        print(s["identifier"], s["extendable"], s["exponent"], s["member_threshold"])
    else:
        fail("unknown check '%s'" % what)


if __name__ == "__main__":
    main()
