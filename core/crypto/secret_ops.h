// Host-side operations on secrets in locked memory: HMAC-SHA256 key derivation from the master
// secret, and the AES key check value. Inputs and outputs are Secrets; nothing is logged.
#pragma once

#include <string_view>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::crypto {

// HMAC-SHA256(key, label): the derivation docs/design.md uses for MK-wrap, MK-derive, QK and BK.
Secret hmac_sha256(const Secret& key, std::string_view label);
// HMAC-SHA256 over public data, returned as public bytes (for backup authentication tags).
Bytes hmac_sha256_tag(const Secret& key, ByteView data);
// First 3 bytes of AES-256-ECB(key, 0^16): the PKCS#11 3.0 CKA_CHECK_VALUE of an AES key.
Bytes aes_check_value(const Secret& key);

}  // namespace hsm::crypto
