// C_DeriveKey (AES-ECB-ENCRYPT-DATA) or HMAC-SHA256 by C_Sign, C_Encrypt/C_Decrypt with
// CKM_AES_GCM, session objects.
#include "core/pkcs11/crypt.h"

#include "core/crypto/host_seal.h"

#include "core/pkcs11/import.h"
#include "core/pkcs11/objects.h"
#include "core/pkcs11/rv.h"
#include "core/pkcs11/templates.h"

namespace hsm::p11 {

namespace {

CK_GCM_PARAMS gcm_params(ByteView nonce, ByteView aad) {
  CK_GCM_PARAMS p{};
  p.pIv = const_cast<std::uint8_t*>(nonce.data());
  p.ulIvLen = nonce.size();
  p.ulIvBits = nonce.size() * 8;
  p.pAAD = const_cast<std::uint8_t*>(aad.data());
  p.ulAADLen = aad.size();
  p.ulTagBits = kGcmTagSize * 8;
  return p;
}

}  // namespace

SessionObject::~SessionObject() {
  if (handle_ == 0) return;
  // Session objects also die with the session; a failure here must not mask the real error.
  session_->fn()->C_DestroyObject(session_->handle(), handle_);
}

SessionObject::SessionObject(SessionObject&& other) noexcept
    : session_(other.session_), handle_(other.handle_), host_key_(std::move(other.host_key_)) {
  other.handle_ = 0;
}

std::string_view kek_derivation_name(KekDerivation d) {
  return d == KekDerivation::hmac_sha256 ? "hmac-sha256" : "aes-ecb";
}

std::optional<KekDerivation> kek_derivation_named(std::string_view name) {
  if (name == "aes-ecb") return KekDerivation::aes_ecb;
  if (name == "hmac-sha256") return KekDerivation::hmac_sha256;
  return std::nullopt;
}

KekDerivation derivation_of(const Session& s, KeyHandle base) {
  CK_ULONG type = 0;
  CK_ATTRIBUTE a{CKA_KEY_TYPE, &type, sizeof type};
  check(s.fn()->C_GetAttributeValue(s.handle(), base, &a, 1), "reading a derivation key's type");
  return type == CKK_GENERIC_SECRET ? KekDerivation::hmac_sha256 : KekDerivation::aes_ecb;
}

Secret hmac_on_token(const Session& s, KeyHandle key, ByteView data) {
  CK_MECHANISM m{CKM_SHA256_HMAC, nullptr, 0};
  check(s.fn()->C_SignInit(s.handle(), &m, key), "starting HMAC-SHA256");
  Secret out(32);
  CK_ULONG len = out.size();
  check(s.fn()->C_Sign(s.handle(), const_cast<std::uint8_t*>(data.data()), data.size(),
                       out.data(), &len),
        "HMAC-SHA256");
  if (len != 32) fail(Category::token, "the token's HMAC-SHA256 is not 32 bytes");
  return out;
}

bool token_has_gcm(const Session& s) {
  CK_MECHANISM_INFO info{};
  const CK_RV rv = s.fn()->C_GetMechanismInfo(s.slot_id(), CKM_AES_GCM, &info);
  // Only "no such mechanism" means the fallback; a device error must not quietly choose it.
  if (rv == CKR_MECHANISM_INVALID) return false;
  check(rv, "asking the token about AES-GCM");
  return true;
}

namespace {

// The value of AES-ECB(base, data) on the host: derived into a readable session key, read, and
// the object destroyed (the host-GCM fallback; a PIN holder can do the same for a known input).
Secret derive_to_host(const Session& s, KeyHandle base, ByteView data) {
  CK_KEY_DERIVATION_STRING_DATA d{const_cast<std::uint8_t*>(data.data()), data.size()};
  CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
  Template t = readable_derived_key();
  KeyHandle h = 0;
  check(s.fn()->C_DeriveKey(s.handle(), &m, base, t.data(), t.size(), &h), "deriving a key");
  const SessionObject owned(s, h);
  Secret value(32);
  CK_ATTRIBUTE a{CKA_VALUE, value.data(), value.size()};
  check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "reading a derived sealing key");
  if (a.ulValueLen != 32) fail(Category::token, "the token derived a sealing key that is not 32 bytes");
  return value;
}

}  // namespace

SessionObject derive_session_key(const Session& s, KeyHandle base, ByteView data, Template& t) {
  const bool hmac = derivation_of(s, base) == KekDerivation::hmac_sha256;
  if (!token_has_gcm(s)) {
    if (!hmac && (data.empty() || data.size() % 16 != 0))
      fail(Category::general, "internal error: AES-ECB derivation data must be a multiple of 16 "
                              "bytes");
    return SessionObject(s, hmac ? hmac_on_token(s, base, data) : derive_to_host(s, base, data));
  }
  if (hmac) {
    Template imported = imported_session_key(t, hmac_on_token(s, base, data));
    return SessionObject(s, import_secret_key(s, imported));
  }
  if (data.empty() || data.size() % 16 != 0)
    fail(Category::general, "internal error: AES-ECB derivation data must be a multiple of 16 "
                            "bytes");
  CK_KEY_DERIVATION_STRING_DATA d{const_cast<std::uint8_t*>(data.data()), data.size()};
  CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
  KeyHandle h = 0;
  check(s.fn()->C_DeriveKey(s.handle(), &m, base, t.data(), t.size(), &h), "deriving a key");
  return SessionObject(s, h);
}

Bytes gcm_seal(const Session& s, KeyHandle key, ByteView nonce, ByteView aad, ByteView plaintext) {
  if (nonce.size() != kGcmNonceSize)
    fail(Category::general, "internal error: an AES-GCM nonce must be 12 bytes");
  CK_GCM_PARAMS p = gcm_params(nonce, aad);
  CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
  check(s.fn()->C_EncryptInit(s.handle(), &m, key), "starting AES-GCM encryption");
  Bytes out(plaintext.size() + kGcmTagSize);
  CK_ULONG len = out.size();
  check(s.fn()->C_Encrypt(s.handle(), const_cast<std::uint8_t*>(plaintext.data()),
                          plaintext.size(), out.data(), &len),
        "AES-GCM encryption");
  out.resize(len);
  return out;
}

std::optional<std::size_t> gcm_decrypt_to(const Session& s, KeyHandle key, ByteView nonce,
                                          ByteView aad, ByteView sealed,
                                          std::span<std::uint8_t> out) {
  CK_GCM_PARAMS p = gcm_params(nonce, aad);
  CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
  check(s.fn()->C_DecryptInit(s.handle(), &m, key), "starting AES-GCM decryption");
  // SoftHSM asks for as many bytes as the input (tag included) and then reports fewer.
  CK_ULONG len = out.size();
  const CK_RV rv = s.fn()->C_Decrypt(s.handle(), const_cast<std::uint8_t*>(sealed.data()),
                                     sealed.size(), out.data(), &len);
  switch (rv) {
    case CKR_OK: return static_cast<std::size_t>(len);
    case CKR_GENERAL_ERROR:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_DATA_LEN_RANGE:
      return std::nullopt;
    default: check(rv, "AES-GCM decryption");
  }
  return std::nullopt;
}

std::optional<Secret> gcm_open(const Session& s, KeyHandle key, ByteView nonce, ByteView aad,
                               ByteView sealed) {
  Secret out(sealed.size() == 0 ? 1 : sealed.size());
  const std::optional<std::size_t> len = gcm_decrypt_to(s, key, nonce, aad, sealed, out.bytes());
  if (!len) return std::nullopt;
  return out.prefix(*len);
}

Bytes gcm_seal(const Session& s, const SessionObject& key, ByteView nonce, ByteView aad,
               ByteView plaintext) {
  if (const Secret* k = key.host_key()) return crypto::aes_gcm_seal(*k, nonce, aad, plaintext);
  return gcm_seal(s, key.handle(), nonce, aad, plaintext);
}

std::optional<Secret> gcm_open(const Session& s, const SessionObject& key, ByteView nonce,
                               ByteView aad, ByteView sealed) {
  if (const Secret* k = key.host_key()) return crypto::aes_gcm_open(*k, nonce, aad, sealed);
  return gcm_open(s, key.handle(), nonce, aad, sealed);
}

bool refused_as_not_wrappable(const Error& e) noexcept {
  const auto* t = dynamic_cast<const TokenError*>(&e);
  return t != nullptr && t->rv() == CKR_KEY_NOT_WRAPPABLE;
}

}  // namespace hsm::p11
