// SoftHSM facts behind hsmctl's derivations: a derived key is only as secret as the caller's
// template makes it, a key's digest is computable, and the mechanisms hsmctl relies on (and
// the ones it cannot) are what they are (docs/design.md, appendix).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "raw_token.h"

namespace hsm::facts {
namespace {

using Derivation = RawToken;
using Mechanisms = RawToken;

const Bytes kKnownKey = [] {
  Bytes k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(0x40 + i);
  return k;
}();

Bytes aes256_ecb_on_host(const Bytes& key, const Bytes& data) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(data.size() + 16);
  int n = 0;
  const bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), nullptr, key.data(), nullptr) &&
                  EVP_CIPHER_CTX_set_padding(ctx, 0) &&
                  EVP_EncryptUpdate(ctx, out.data(), &n, data.data(),
                                    static_cast<int>(data.size()));
  EVP_CIPHER_CTX_free(ctx);
  out.resize(ok ? static_cast<size_t>(n) : 0);
  return out;
}

// A key like MK-derive, but of a value the check knows: sensitive, non-extractable, derive
// only with CKM_AES_ECB_ENCRYPT_DATA, not modifiable.
Tmpl derive_only_key() {
  Tmpl t = aes_value_template(kKnownKey, true);
  t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_ENCRYPT, false)
      .flag(CKA_DECRYPT, false).flag(CKA_DERIVE, true).mechanisms({CKM_AES_ECB_ENCRYPT_DATA})
      .flag(CKA_MODIFIABLE, false);
  return t;
}

TEST_F(Derivation, DerivedValueIsReadable) {
  ASSERT_EQ(login_user(), CKR_OK);
  const CK_OBJECT_HANDLE k = create(derive_only_key());
  CK_RV rv = 0;
  value(k, &rv);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);
  Bytes data(32);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i);
  Tmpl mine;
  mine.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .flag(CKA_TOKEN, false).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)
      .num(CKA_VALUE_LEN, 32);
  CK_OBJECT_HANDLE derived = 0;
  ASSERT_EQ(derive_ecb(k, data, std::move(mine), &derived), CKR_OK);
  EXPECT_EQ(get(derived, CKA_SENSITIVE), 0);
  const Bytes v = value(derived, &rv);
  ASSERT_EQ(rv, CKR_OK);
  EXPECT_EQ(v, aes256_ecb_on_host(kKnownKey, data)) << hex(v);  // AES-ECB(K, data), in the clear
}

TEST_F(Derivation, DigestKeyHashesASensitiveKey) {
  ASSERT_EQ(login_user(), CKR_OK);
  const CK_OBJECT_HANDLE k = create(derive_only_key());
  CK_MECHANISM sha{CKM_SHA256, nullptr, 0};
  ASSERT_EQ(p11()->C_DigestInit(session(), &sha), CKR_OK);
  ASSERT_EQ(p11()->C_DigestKey(session(), k), CKR_OK);
  Bytes digest(32);
  CK_ULONG len = digest.size();
  ASSERT_EQ(p11()->C_DigestFinal(session(), digest.data(), &len), CKR_OK);
  Bytes expected(SHA256_DIGEST_LENGTH);
  SHA256(kKnownKey.data(), kKnownKey.size(), expected.data());
  EXPECT_EQ(digest, expected) << "C_DigestKey gave " << hex(digest);
}

TEST_F(Mechanisms, NoOtherKeyDerivation) {
  const CK_MECHANISM_TYPE absent[] = {
      CKM_CONCATENATE_BASE_AND_KEY, CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE,
      CKM_XOR_BASE_AND_DATA, CKM_EXTRACT_KEY_FROM_KEY, CKM_SHA256_KEY_DERIVATION,
      0x402a /* CKM_HKDF_DERIVE */, 0x3ac /* CKM_SP800_108_COUNTER_KDF */};
  CK_SESSION_INFO si{};
  ASSERT_EQ(p11()->C_GetSessionInfo(session(), &si), CKR_OK);
  for (CK_MECHANISM_TYPE m : absent) {
    CK_MECHANISM_INFO info{};
    EXPECT_EQ(p11()->C_GetMechanismInfo(si.slotID, m, &info), CKR_MECHANISM_INVALID)
        << std::hex << m;
  }
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl inner;
  inner.flag(CKA_SENSITIVE, true);
  Tmpl t = aes_template(false);
  t.flag(CKA_DERIVE, true).nested(CKA_DERIVE_TEMPLATE, inner);
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(generate_aes_rv(std::move(t), &h), CKR_ATTRIBUTE_TYPE_INVALID);
}

TEST_F(Mechanisms, WhatHsmctlUsesIsThere) {
  CK_SESSION_INFO si{};
  ASSERT_EQ(p11()->C_GetSessionInfo(session(), &si), CKR_OK);
  struct Need {
    CK_MECHANISM_TYPE type;
    CK_FLAGS flags;
    const char* name;
  };
  const Need needed[] = {
      {CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP, "CKM_AES_KEY_WRAP_PAD"},
      {CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, "CKM_AES_GCM"},
      {CKM_AES_ECB_ENCRYPT_DATA, CKF_DERIVE, "CKM_AES_ECB_ENCRYPT_DATA"},
      {CKM_ECDSA, CKF_SIGN, "CKM_ECDSA"},
      {CKM_SHA256_RSA_PKCS_PSS, CKF_SIGN, "CKM_SHA256_RSA_PKCS_PSS"},
      {CKM_EDDSA, CKF_SIGN, "CKM_EDDSA"},
      {CKM_ECDH1_DERIVE, CKF_DERIVE, "CKM_ECDH1_DERIVE"},
      {CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "CKM_EC_KEY_PAIR_GEN"},
      {CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "CKM_EC_EDWARDS_KEY_PAIR_GEN"},
      {CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "CKM_RSA_PKCS_KEY_PAIR_GEN"},
  };
  for (const Need& n : needed) {
    CK_MECHANISM_INFO info{};
    ASSERT_EQ(p11()->C_GetMechanismInfo(si.slotID, n.type, &info), CKR_OK) << n.name;
    EXPECT_EQ(info.flags & n.flags, n.flags) << n.name;
  }
}

}  // namespace
}  // namespace hsm::facts
