// Token-side symmetric work for sealed blobs: a session key derived from MK-derive
// (AES-ECB-ENCRYPT-DATA), AES-256-GCM seal and open by the token, and an owner for session
// objects that must not outlive one operation. Keys never leave the token; what an open returns
// lives only in a Secret.
#pragma once

#include <cstddef>
#include <optional>

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

// C_DeriveKey(base, CKM_AES_ECB_ENCRYPT_DATA, data) into a session key described by `t`
// (from templates.h). `data` must be a non-empty multiple of 16 bytes; the new key's value is
// AES-ECB(base, data).
SessionObject derive_session_key(const Session& s, KeyHandle base, ByteView data, Template& t);

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
