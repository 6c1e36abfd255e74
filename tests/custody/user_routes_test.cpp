// The custody contract for user keys, from the attacker's side: a PIN holder with the keystore
// and raw PKCS#11 (libsodium's Argon2id, C_DeriveKey under MK-derive with a template of their
// own, C_Decrypt with AES-GCM) opens no user's outer layer without the password; with the
// password too, the inner blob unwraps under MK-wrap only as a sensitive, non-extractable key;
// and no user key object is left on the token.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "attacker.h"
#include "core/keystore/keystore.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

const std::string kUserPassword = "the user's password";
using Blob = std::vector<unsigned char>;

class UserCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    const std::map<std::string, std::string> env{{"PW", kUserPassword}};
    ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, env).code, 0);
    const auto data = write_file("data", "signed once\n");
    ASSERT_EQ(hsmctl({"user", "sign", "alice", "--in", data.string(), "--out",
                      (tmp_.path() / "sig").string(), "--password-source", "env:PW"}, env).code, 0);
    keystore::Keystore ks(ws_);
    user_ = *ks.find_user("alice");
  }

  // Argon2id(password) as anyone can compute it, then C_DeriveKey(MK-derive) into an AES key of
  // the attacker's template: not sensitive, extractable, GCM allowed.
  CK_OBJECT_HANDLE derive_kek(Attacker& a, const Target& mk_derive, const std::string& password) {
    unsigned char material[32];
    const auto& k = user_.secrets.kdf;
    EXPECT_EQ(crypto_pwhash(material, sizeof material, password.data(), password.size(),
                            k.salt.data(), k.opslimit, k.memlimit, crypto_pwhash_ALG_ARGON2ID13), 0);
    CK_KEY_DERIVATION_STRING_DATA d{material, sizeof material};
    CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &no, sizeof no},       {CKA_SENSITIVE, &no, sizeof no},
                        {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_DECRYPT, &yes, sizeof yes},
                        {CKA_VALUE_LEN, &len, sizeof len}};
    CK_OBJECT_HANDLE kek = 0;
    EXPECT_EQ(a.fn()->C_DeriveKey(a.session(), &m, mk_derive.handle, t, 7, &kek), CKR_OK);
    sodium_memzero(material, sizeof material);
    return kek;
  }

  // C_Decrypt of the stored outer layer with AES-GCM under `key`.
  CK_RV open_outer(Attacker& a, CK_OBJECT_HANDLE key, Blob* inner) {
    const auto& b = user_.secrets.signing_key;
    Blob nonce(b.nonce.begin(), b.nonce.end()), ct(b.ciphertext.begin(), b.ciphertext.end());
    std::string aad = "hsmctl v1 user|alice|p256|1";
    CK_GCM_PARAMS p{nonce.data(), nonce.size(), nonce.size() * 8,
                    reinterpret_cast<unsigned char*>(aad.data()), aad.size(), 128};
    CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
    const CK_RV init = a.fn()->C_DecryptInit(a.session(), &m, key);
    if (init != CKR_OK) return init;
    inner->assign(ct.size(), 0);
    CK_ULONG len = inner->size();
    const CK_RV rv = a.fn()->C_Decrypt(a.session(), ct.data(), ct.size(), inner->data(), &len);
    inner->resize(rv == CKR_OK ? len : 0);
    return rv;
  }

  // C_UnwrapKey(KWP) of `blob` under MK-wrap as an EC private session key with these flags.
  static CK_RV unwrap(Attacker& a, const Target& mk_wrap, Blob blob, bool sensitive,
                      bool extractable, CK_OBJECT_HANDLE* out) {
    CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, s = sensitive, x = extractable;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &no, sizeof no},   {CKA_SIGN, &yes, sizeof yes},
                        {CKA_SENSITIVE, &s, sizeof s}, {CKA_EXTRACTABLE, &x, sizeof x}};
    *out = 0;
    return a.fn()->C_UnwrapKey(a.session(), &m, mk_wrap.handle, blob.data(), blob.size(), t, 6, out);
  }

  static Target only(Attacker& a, const std::string& label) {
    const auto keys = a.keys(label);
    EXPECT_EQ(keys.size(), 1u) << label;
    return keys.at(0);
  }

  keystore::UserRecord user_;
};

TEST_F(UserCustody, WithoutThePasswordNoOuterLayerOpens) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const Target mk_derive = only(a, "hsmctl-mk-derive");
  const Target mk_wrap = only(a, "hsmctl-mk-wrap");
  Blob inner;
  // A guessed password gives a KEK (the attacker may even read it), but not the right one.
  const CK_OBJECT_HANDLE guess = derive_kek(a, mk_derive, "a guess");
  EXPECT_EQ(open_outer(a, guess, &inner), CKR_GENERAL_ERROR);
  a.fn()->C_DestroyObject(a.session(), guess);
  // The master keys themselves do no AES-GCM: SoftHSM 2.6.1 checks CKA_DECRYPT (false on
  // both) before CKA_ALLOWED_MECHANISMS (measured: CKR_KEY_FUNCTION_NOT_PERMITTED).
  EXPECT_EQ(open_outer(a, mk_derive.handle, &inner), CKR_KEY_FUNCTION_NOT_PERMITTED);
  EXPECT_EQ(open_outer(a, mk_wrap.handle, &inner), CKR_KEY_FUNCTION_NOT_PERMITTED);
  // Nor is the outer layer a KWP blob that MK-wrap would unwrap, even asked for a sealed copy.
  const auto& outer = user_.secrets.signing_key.ciphertext;
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(unwrap(a, mk_wrap, Blob(outer.begin(), outer.end()), true, false, &h),
            CKR_GENERAL_ERROR);
}

TEST_F(UserCustody, WithThePasswordTheInnerBlobStillUnwrapsOnlySealed) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const Target mk_derive = only(a, "hsmctl-mk-derive");
  const Target mk_wrap = only(a, "hsmctl-mk-wrap");
  const CK_OBJECT_HANDLE kek = derive_kek(a, mk_derive, kUserPassword);
  Blob inner;
  ASSERT_EQ(open_outer(a, kek, &inner), CKR_OK);  // the logged password opens the outer layer
  a.fn()->C_DestroyObject(a.session(), kek);
  EXPECT_EQ(a.unwrap_blob_extractable(mk_wrap, inner), CKR_TEMPLATE_INCONSISTENT);
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(unwrap(a, mk_wrap, inner, true, true, &h), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(a, mk_wrap, inner, false, false, &h), CKR_TEMPLATE_INCONSISTENT);
  // What remains (hsmctl(1), SECURITY): a sealed copy that signs while the attacker is logged
  // in, and refuses every route out even though the attacker chose the rest of its template.
  ASSERT_EQ(unwrap(a, mk_wrap, inner, true, false, &h), CKR_OK);
  const Target copy{h, "", CKO_PRIVATE_KEY, CKK_EC};
  EXPECT_EQ(a.read_value(copy), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(a.wrap_under_own_key(copy), CKR_KEY_UNEXTRACTABLE);
  const CK_RV raise = a.raise_flag(copy, CKA_EXTRACTABLE);
  EXPECT_TRUE(raise == CKR_ATTRIBUTE_READ_ONLY || raise == CKR_ACTION_PROHIBITED) << rv_text(raise);
  const CK_RV lower = a.lower_sensitive(copy);
  EXPECT_TRUE(lower == CKR_ATTRIBUTE_READ_ONLY || lower == CKR_ACTION_PROHIBITED) << rv_text(lower);
  const CK_RV copied = a.copy_weaker(copy, CKA_EXTRACTABLE, true);
  EXPECT_TRUE(copied == CKR_ATTRIBUTE_READ_ONLY || copied == CKR_ACTION_PROHIBITED)
      << rv_text(copied);
  a.fn()->C_DestroyObject(a.session(), h);
}

TEST_F(UserCustody, NoUserKeyObjectStaysOnTheToken) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const auto keys = a.keys("");
  size_t private_keys = 0;
  for (const auto& k : keys) {
    if (k.cls == CKO_PRIVATE_KEY) {
      ++private_keys;
      EXPECT_EQ(k.label.rfind("hsmctl-transcript", 0), 0u) << "'" << k.label << "'";
    } else {
      EXPECT_TRUE(k.label == "hsmctl-mk-wrap" || k.label == "hsmctl-mk-derive") << k.label;
    }
  }
  EXPECT_EQ(private_keys, 2u);  // the provisional and the escrowed transcript key
  EXPECT_EQ(keys.size(), 4u);
}

}  // namespace
}  // namespace hsm::custody
