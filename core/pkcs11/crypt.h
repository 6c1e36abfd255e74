// Token-side symmetric work for sealed blobs: a session key derived from MK-derive
// (AES-ECB-ENCRYPT-DATA, or HMAC-SHA256 by C_Sign where the token lacks it), AES-256-GCM seal
// and open by the token, and an owner for session objects that must not outlive one operation.
// Base keys never leave the token; an HMAC-derived value is on the host only in a Secret, until
// it is on the token; what an open returns lives only in a Secret.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/template.h"
#include "core/secure/secret.h"

namespace hsm::p11 {

inline constexpr std::size_t kGcmNonceSize = 12;
inline constexpr std::size_t kGcmTagSize = 16;

// Owns one session object (a KEK, an unwrapped private key) and destroys it when it goes out
// of scope, so no exit path leaves it on the token.
class SessionObject {
 public:
  SessionObject(const Session& s, KeyHandle handle) : session_(&s), handle_(handle) {}
  ~SessionObject();
  SessionObject(SessionObject&& other) noexcept;
  SessionObject& operator=(SessionObject&&) = delete;
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;
  KeyHandle handle() const noexcept { return handle_; }

 private:
  const Session* session_;
  KeyHandle handle_;
};

// "aes-ecb", "hmac-sha256".
std::string_view kek_derivation_name(KekDerivation d);
// nullopt for any other name.
std::optional<KekDerivation> kek_derivation_named(std::string_view name);
// The method a derivation base key was made for, from its CKA_KEY_TYPE.
KekDerivation derivation_of(const Session& s, KeyHandle base);

// A session key described by `t` (a derive template from templates.h, with CKA_VALUE_LEN)
// derived from `base` with `data`. An AES base: C_DeriveKey(CKM_AES_ECB_ENCRYPT_DATA), so the
// value is AES-ECB(base, data) and `data` must be a non-empty multiple of 16 bytes. A generic
// secret base: HMAC-SHA256(base, data) by C_Sign, imported with the same attributes
// (imported_session_key in templates.h) and the host copy wiped.
SessionObject derive_session_key(const Session& s, KeyHandle base, ByteView data, Template& t);
// HMAC-SHA256(key, data) by the token (C_Sign, CKM_SHA256_HMAC), into locked memory.
Secret hmac_on_token(const Session& s, KeyHandle key, ByteView data);

// AES-GCM (12-byte nonce, 128-bit tag) by the token: returns ciphertext || tag.
Bytes gcm_seal(const Session& s, KeyHandle key, ByteView nonce, ByteView aad, ByteView plaintext);
// Opens what gcm_seal made. nullopt when it does not authenticate under this key, nonce and
// AAD (SoftHSM 2.6.1 answers CKR_GENERAL_ERROR for a bad tag, AAD, nonce or a short input);
// other token failures throw.
std::optional<Secret> gcm_open(const Session& s, KeyHandle key, ByteView nonce, ByteView aad,
                               ByteView sealed);

// True when `e` is the token refusing to wrap a key of that type (CKR_KEY_NOT_WRAPPABLE):
// SoftHSM 2.6.1 and EdDSA private keys.
bool refused_as_not_wrappable(const Error& e) noexcept;

}  // namespace hsm::p11
