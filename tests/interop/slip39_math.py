"""SLIP-0039 arithmetic for the interop tests: RS1024 checksum, GF(256) Shamir with the digest
share, and the Feistel cipher; written from the spec, never from hsmctl's C++ code (stdlib only).

No share format and no I/O here: slip39.py builds mnemonics and the command line on top.
"""

import hashlib
import hmac
import secrets

ID_BITS = 15
MIN_SECRET_BITS = 128
BASE_ITERATIONS = 10000
ROUNDS = 4
SECRET_INDEX = 255
DIGEST_INDEX = 254
DIGEST_LEN = 4


class Slip39Error(Exception):
    pass


# ---------------------------------------------------------------- RS1024 checksum

GEN = [0xE0E040, 0x1C1C080, 0x3838100, 0x7070200, 0xE0E0009,
       0x1C0C2412, 0x38086C24, 0x3090FC48, 0x21B1F890, 0x3F3F120]


def rs1024_polymod(values):
    chk = 1
    for v in values:
        b = chk >> 20
        chk = ((chk & 0xFFFFF) << 10) ^ v
        for i in range(10):
            if (b >> i) & 1:
                chk ^= GEN[i]
    return chk


def customization(ext):
    return b"shamir_extendable" if ext else b"shamir"


def rs1024_create_checksum(cs, data):
    polymod = rs1024_polymod(list(cs) + list(data) + [0, 0, 0]) ^ 1
    return [(polymod >> (10 * (2 - i))) & 1023 for i in range(3)]


def rs1024_verify_checksum(cs, data):
    return rs1024_polymod(list(cs) + list(data)) == 1


# ---------------------------------------------------------------- GF(256), Rijndael polynomial

EXP = [0] * 255
LOG = [0] * 256


def _init_tables():
    x = 1
    for i in range(255):
        EXP[i] = x
        LOG[x] = i
        # multiply by the generator 3 = x + 1, reduce by x^8 + x^4 + x^3 + x + 1
        x ^= (x << 1)
        if x & 0x100:
            x ^= 0x11B


_init_tables()


def gf_mul(a, b):
    if a == 0 or b == 0:
        return 0
    return EXP[(LOG[a] + LOG[b]) % 255]


def gf_div(a, b):
    if b == 0:
        raise ZeroDivisionError
    if a == 0:
        return 0
    return EXP[(LOG[a] - LOG[b]) % 255]


def interpolate(shares, x):
    """shares: list of (x_i, bytes y_i); returns bytes f(x) (Lagrange, per byte)."""
    xs = [s[0] for s in shares]
    if len(set(xs)) != len(xs):
        raise Slip39Error("share indices must be pairwise distinct")
    lengths = {len(s[1]) for s in shares}
    if len(lengths) != 1:
        raise Slip39Error("all share values must have the same length")
    for xi, yi in shares:
        if xi == x:
            return bytes(yi)
    n = lengths.pop()
    out = bytearray(n)
    for i, (xi, yi) in enumerate(shares):
        basis = 1
        for j, (xj, _) in enumerate(shares):
            if i != j:
                basis = gf_mul(basis, gf_div(x ^ xj, xi ^ xj))
        for k in range(n):
            out[k] ^= gf_mul(yi[k], basis)
    return bytes(out)


# ---------------------------------------------------------------- single-level sharing

def digest(random_part, shared_secret):
    return hmac.new(random_part, shared_secret, hashlib.sha256).digest()[:DIGEST_LEN]


def split_secret(threshold, count, secret):
    if not (0 < threshold <= count <= 16):
        raise Slip39Error("need 0 < threshold <= count <= 16")
    if len(secret) * 8 < MIN_SECRET_BITS or len(secret) % 2:
        raise Slip39Error("secret must be at least 128 bits and a multiple of 16 bits")
    if threshold == 1:
        return [(i, bytes(secret)) for i in range(count)]
    r = secrets.token_bytes(len(secret) - DIGEST_LEN)
    d = digest(r, secret) + r
    base = [(i, secrets.token_bytes(len(secret))) for i in range(threshold - 2)]
    base += [(DIGEST_INDEX, d), (SECRET_INDEX, bytes(secret))]
    out = list(base[: threshold - 2])
    for i in range(threshold - 2, count):
        out.append((i, interpolate(base, i)))
    return out


def recover_secret(threshold, shares):
    if threshold == 1:
        return shares[0][1]
    s = interpolate(shares, SECRET_INDEX)
    d = interpolate(shares, DIGEST_INDEX)
    if not hmac.compare_digest(d[:DIGEST_LEN], digest(d[DIGEST_LEN:], s)):
        raise Slip39Error("invalid digest of the shared secret")
    return s


# ---------------------------------------------------------------- Feistel encryption

def _round(i, passphrase, e, salt, r):
    return hashlib.pbkdf2_hmac("sha256", bytes([i]) + passphrase, salt + r,
                               (BASE_ITERATIONS // ROUNDS) << e, len(r))


def _salt(identifier, ext):
    return b"" if ext else b"shamir" + identifier.to_bytes(2, "big")


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def check_passphrase(passphrase):
    if any(c < 32 or c > 126 for c in passphrase):
        raise Slip39Error("the passphrase must contain only printable ASCII characters")


def encrypt(ms, passphrase, e, identifier, ext):
    check_passphrase(passphrase)
    if len(ms) % 2:
        raise Slip39Error("the master secret length must be a multiple of 16 bits")
    half = len(ms) // 2
    left, right = ms[:half], ms[half:]
    salt = _salt(identifier, ext)
    for i in range(ROUNDS):
        left, right = right, _xor(left, _round(i, passphrase, e, salt, right))
    return right + left


def decrypt(ems, passphrase, e, identifier, ext):
    check_passphrase(passphrase)
    half = len(ems) // 2
    left, right = ems[:half], ems[half:]
    salt = _salt(identifier, ext)
    for i in reversed(range(ROUNDS)):
        left, right = right, _xor(left, _round(i, passphrase, e, salt, right))
    return right + left
