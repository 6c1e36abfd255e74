#!/usr/bin/env python3
# Decrypts an hsmctl data file with a DEK given in hex, from hsmctl-data(5) alone (never from
# hsmctl's code), with the `cryptography` package's AES-GCM: the check that the format page is
# right and complete. Exit 0 and the plaintext written to OUT; exit 1 with a reason otherwise.
#   decrypt_data_file.py FILE DEK_HEX OUT
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main(path, dek_hex, out_path):
    data = open(path, "rb").read()
    if data[:7] != b"HSMCTLD" or data[7] != 1:
        sys.exit("not an hsmctl data file of version 1")
    (n,) = struct.unpack(">I", data[8:12])
    header_bytes = data[: 12 + n]
    header = json.loads(data[12 : 12 + n])
    if header["format"] != "hsmctl-data-v1":
        sys.exit("unknown format")
    # The header is canonical JSON: re-serialising it gives the same bytes.
    canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if canonical.encode() != data[12 : 12 + n]:
        sys.exit("header is not canonical JSON")
    chunk = header["chunk_size"]
    digest = hashlib.sha256(header_bytes).digest()
    gcm = AESGCM(bytes.fromhex(dek_hex))
    pos, index, out = 12 + n, 0, bytearray()
    while True:
        record = data[pos : pos + chunk + 16]
        final = len(record) < chunk + 16
        nonce = b"\0\0\0\0" + struct.pack(">Q", index)
        aad = digest + struct.pack(">Q", index) + bytes([1 if final else 0])
        out += gcm.decrypt(nonce, record, aad)
        pos += len(record)
        index += 1
        if final:
            break
    if pos != len(data):
        sys.exit("data after the final chunk")
    open(out_path, "wb").write(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
