// Host-side halves of two token fallbacks (docs/design.md, "Which tokens can keep the
// contract"): RSA-OAEP encryption of a key value to a transport key the token generated (import
// by unwrapping), and AES-256-GCM by the host for a token without CKM_AES_GCM. Keys come in
// Secrets, plaintexts go out in Secrets; nothing is logged or kept.
#pragma once

#include <optional>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::crypto {

// RSA-OAEP (MGF1 with the same hash; SHA-256, or SHA-1 where `sha1`) of `value` to the RSA
// public key `spki` (DER SubjectPublicKeyInfo).
Bytes rsa_oaep_encrypt(ByteView spki, const Secret& value, bool sha1);

// AES key wrap with padding (RFC 5649) of `value` under `key`: what CKM_AES_KEY_WRAP_PAD makes,
// so a token holding `key` unwraps it, and only a token holding `key` does.
Bytes aes_kwp_wrap(const Secret& key, const Secret& value);

// AES-256-GCM with a 12-byte nonce and a 16-byte tag: ciphertext || tag, the layout the token's
// CKM_AES_GCM gives, so either side opens what the other sealed.
Bytes aes_gcm_seal(const Secret& key, ByteView nonce, ByteView aad, ByteView plaintext);
// nullopt when it does not authenticate under this key, nonce and AAD (or is shorter than a tag).
std::optional<Secret> aes_gcm_open(const Secret& key, ByteView nonce, ByteView aad,
                                   ByteView sealed);

}  // namespace hsm::crypto
