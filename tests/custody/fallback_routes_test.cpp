// The custody contract for the HMAC KEK derivation (master init --kek-derivation hmac-sha256,
// what a token without AES-ECB-ENCRYPT-DATA gets): MK-derive is then a generic secret that
// signs with CKM_SHA256_HMAC only. A PIN holder can compute HMAC-SHA256(MK-derive, x) for an x
// of their choice, exactly as they could AES-ECB(MK-derive, x) before, and nothing more: they
// cannot read it, derive with it, wrap with it, use another mechanism, or loosen it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "attacker.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

class HmacDeriveCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    test::make_private_dir(tmp_.path() / "shares");
    ASSERT_EQ(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                      "--kek-derivation", "hmac-sha256", "--shares-out",
                      (tmp_.path() / "shares").string()}).code, 0);
  }
  // The answer of C_SignInit + C_Sign with `mechanism` under `key`.
  static CK_RV sign_with(Attacker& a, const Target& key, CK_MECHANISM_TYPE mechanism) {
    CK_MECHANISM m{mechanism, nullptr, 0};
    CK_RV rv = a.fn()->C_SignInit(a.session(), &m, key.handle);
    if (rv != CKR_OK) return rv;
    unsigned char data[] = "chosen input", mac[64];
    CK_ULONG len = sizeof mac;
    return a.fn()->C_Sign(a.session(), data, sizeof data - 1, mac, &len);
  }
  static bool one_of(CK_RV rv, std::initializer_list<CK_RV> refusals) {
    return std::find(refusals.begin(), refusals.end(), rv) != refusals.end();
  }
};

TEST_F(HmacDeriveCustody, MkDeriveIsAGenericSecretThatOnlyHmacsAndRefusesEveryRouteOut) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const auto derive = a.keys("hsmctl-mk-derive");
  ASSERT_EQ(derive.size(), 1u);
  const Target& mk = derive[0];
  EXPECT_EQ(mk.key_type, static_cast<CK_KEY_TYPE>(CKK_GENERIC_SECRET));

  // What the design grants a PIN holder: HMAC-SHA256 of an input of their choice.
  EXPECT_EQ(sign_with(a, mk, CKM_SHA256_HMAC), CKR_OK);
  // Nothing else: another HMAC, a verify, a derivation, a wrap, an encryption.
  EXPECT_TRUE(one_of(sign_with(a, mk, CKM_SHA512_HMAC), {CKR_MECHANISM_INVALID}))
      << rv_text(sign_with(a, mk, CKM_SHA512_HMAC));
  CK_MECHANISM hmac{CKM_SHA256_HMAC, nullptr, 0};
  const CK_RV verify = a.fn()->C_VerifyInit(a.session(), &hmac, mk.handle);
  EXPECT_TRUE(one_of(verify, {CKR_KEY_FUNCTION_NOT_PERMITTED})) << rv_text(verify);

  unsigned char input[32] = {1};
  CK_KEY_DERIVATION_STRING_DATA d{input, sizeof input};
  CK_MECHANISM ecb{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG len = 32;
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &no, sizeof no},         {CKA_SENSITIVE, &no, sizeof no},
                      {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE_LEN, &len, sizeof len}};
  CK_OBJECT_HANDLE out = 0;
  const CK_RV derived = a.fn()->C_DeriveKey(a.session(), &ecb, mk.handle, t, 6, &out);
  EXPECT_TRUE(one_of(derived, {CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_MECHANISM_INVALID,
                               CKR_KEY_TYPE_INCONSISTENT}))
      << rv_text(derived);

  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  const auto transcript = a.keys("hsmctl-transcript");
  ASSERT_FALSE(transcript.empty());
  unsigned char blob[512];
  CK_ULONG blob_len = sizeof blob;
  const CK_RV wrapped = a.fn()->C_WrapKey(a.session(), &kwp, mk.handle, transcript[0].handle,
                                          blob, &blob_len);
  EXPECT_TRUE(one_of(wrapped, {CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_MECHANISM_INVALID,
                               CKR_WRAPPING_KEY_TYPE_INCONSISTENT}))
      << rv_text(wrapped);
  CK_MECHANISM aes_ecb{CKM_AES_ECB, nullptr, 0};
  const CK_RV encrypt = a.fn()->C_EncryptInit(a.session(), &aes_ecb, mk.handle);
  EXPECT_NE(encrypt, CKR_OK) << rv_text(encrypt);

  // And the common routes: value, flags, copies, wraps under the attacker's own keys.
  EXPECT_EQ(a.read_value(mk), CKR_ATTRIBUTE_SENSITIVE);
  for (CK_ATTRIBUTE_TYPE flag : {CKA_DERIVE, CKA_WRAP, CKA_UNWRAP, CKA_ENCRYPT, CKA_VERIFY,
                                 CKA_EXTRACTABLE})
    EXPECT_TRUE(one_of(a.raise_flag(mk, flag), {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}))
        << flag;
  EXPECT_TRUE(one_of(a.lower_sensitive(mk), {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}));
  EXPECT_TRUE(one_of(a.copy_weaker(mk, CKA_EXTRACTABLE, true),
                     {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}));
  EXPECT_TRUE(one_of(a.copy_weaker(mk, CKA_DERIVE, true),
                     {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}));
  EXPECT_EQ(a.wrap_under_own_key(mk), CKR_KEY_UNEXTRACTABLE);
  EXPECT_TRUE(one_of(a.wrap_under_own_rsa(mk),
                     {CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE, CKR_MECHANISM_INVALID}));
}

}  // namespace
}  // namespace hsm::custody
