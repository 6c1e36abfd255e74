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
//
// Where the token has no AES-GCM (the host-GCM fallback, docs/design.md), a derived sealing key
// is instead held on the host, in a Secret, for the one operation: handle() is then 0 and
// host_key() the value; gcm_seal and gcm_open below use whichever it holds.
class SessionObject {
 public:
  SessionObject(const Session& s, KeyHandle handle) : session_(&s), handle_(handle) {}
  SessionObject(const Session& s, Secret host_key)
      : session_(&s), handle_(0), host_key_(std::move(host_key)) {}
  ~SessionObject();
  SessionObject(SessionObject&& other) noexcept;
  SessionObject& operator=(SessionObject&&) = delete;
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;
  KeyHandle handle() const noexcept { return handle_; }
  const Secret* host_key() const noexcept { return host_key_ ? &*host_key_ : nullptr; }

 private:
  const Session* session_;
  KeyHandle handle_;
  std::optional<Secret> host_key_;
};

// Whether the token lists CKM_AES_GCM (C_GetMechanismInfo). Without it, sealing keys derived by
// derive_session_key are held on the host and AES-GCM runs there (OpenSSL), same blob format.
bool token_has_gcm(const Session& s);

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
// (imported_session_key in templates.h) and the host copy wiped. On a token without AES-GCM
// (`t` is always a GCM key) the value stays on the host instead: the HMAC, or the AES-ECB
// derivation into a readable session key whose value is read and the object destroyed.
SessionObject derive_session_key(const Session& s, KeyHandle base, ByteView data, Template& t);
// HMAC-SHA256(key, data) by the token (C_Sign, CKM_SHA256_HMAC), into locked memory.
Secret hmac_on_token(const Session& s, KeyHandle key, ByteView data);

// AES-GCM (12-byte nonce, 128-bit tag) by the token: returns ciphertext || tag.
Bytes gcm_seal(const Session& s, KeyHandle key, ByteView nonce, ByteView aad, ByteView plaintext);
// The same with a derived key: by the token, or on the host when the key is held there.
Bytes gcm_seal(const Session& s, const SessionObject& key, ByteView nonce, ByteView aad,
               ByteView plaintext);
std::optional<Secret> gcm_open(const Session& s, const SessionObject& key, ByteView nonce,
                               ByteView aad, ByteView sealed);
// Opens what gcm_seal made. nullopt when it does not authenticate under this key, nonce and
// AAD (SoftHSM 2.6.1 answers CKR_GENERAL_ERROR for a bad tag, AAD, nonce or a short input);
// other token failures throw.
std::optional<Secret> gcm_open(const Session& s, KeyHandle key, ByteView nonce, ByteView aad,
                               ByteView sealed);
// The C_Decrypt behind gcm_open, into `out` (at least sealed.size() bytes, at least 1): the
// plaintext's length, or nullopt when it does not authenticate; other token failures throw.
std::optional<std::size_t> gcm_decrypt_to(const Session& s, KeyHandle key, ByteView nonce,
                                          ByteView aad, ByteView sealed,
                                          std::span<std::uint8_t> out);

// True when `e` is the token refusing to wrap a key of that type (CKR_KEY_NOT_WRAPPABLE):
// SoftHSM 2.6.1 and EdDSA private keys.
bool refused_as_not_wrappable(const Error& e) noexcept;

}  // namespace hsm::p11
