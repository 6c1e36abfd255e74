// The custody contract for group keys, from the attacker's side: a PIN holder with the keystore
// and raw PKCS#11 but no member's password finds no blob that unwraps to the group key and
// cannot open any member's layer (their own ECDH against the stored ephemeral keys agrees on
// nothing useful; a guessed password opens no key-agreement key). With one member's password
// they open that member's layer, and the group key inside still unwraps under MK-wrap only as a
// sensitive, non-extractable key: they can sign while logged in, never export.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>

#include "attacker.h"
#include "core/keystore/keystore.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

const std::string kAlicePassword = "alice's password";
using Blob = std::vector<unsigned char>;
CK_BBOOL kYes = CK_TRUE, kNo = CK_FALSE;

Blob blob(const Bytes& b) { return Blob(b.begin(), b.end()); }
// The uncompressed point at the end of a P-256 SubjectPublicKeyInfo.
Blob point_of(const Bytes& spki) { return Blob(spki.end() - 65, spki.end()); }

class GroupCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    const std::map<std::string, std::string> env{{"PW", kAlicePassword}, {"PWB", "bob's secret"}};
    for (const auto& [u, var] : {std::pair{"alice", "PW"}, std::pair{"bob", "PWB"}})
      ASSERT_EQ(hsmctl({"user", "create", u, "--kdf-profile", "min", "--password-source",
                        std::string("env:") + var}, env).code, 0);
    ASSERT_EQ(hsmctl({"group", "create", "ops", "--members", "alice,bob"}).code, 0);
    keystore::Keystore ks(ws_);
    alice_ = *ks.find_user("alice");
    group_ = *ks.find_group("ops");
    layers_ = ks.list_group_members("ops");
  }

  static Target only(Attacker& a, const std::string& label) {
    const auto keys = a.keys(label);
    EXPECT_EQ(keys.size(), 1u) << label;
    return keys.at(0);
  }

  // An AES session key from C_DeriveKey with the attacker's own template (GCM and derivation
  // allowed: they choose).
  static CK_RV derive(Attacker& a, CK_MECHANISM* m, CK_OBJECT_HANDLE base, CK_OBJECT_HANDLE* out) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},  {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &kNo, 1},           {CKA_SENSITIVE, &kNo, 1},
                        {CKA_EXTRACTABLE, &kYes, 1},    {CKA_DECRYPT, &kYes, 1},
                        {CKA_DERIVE, &kYes, 1},         {CKA_VALUE_LEN, &len, sizeof len}};
    *out = 0;
    return a.fn()->C_DeriveKey(a.session(), m, base, t, 8, out);
  }

  // The layer key hsmctl would use, computed the way group_agreement.cpp does, from an ECDH
  // private key of the attacker's choosing and the layer's ephemeral public key.
  CK_RV layer_key(Attacker& a, CK_OBJECT_HANDLE ecdh_private, const keystore::GroupMember& m,
                  CK_OBJECT_HANDLE* out) {
    Blob point = point_of(m.ephemeral_public_key);
    CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
    CK_MECHANISM ecdh{CKM_ECDH1_DERIVE, &p, sizeof p};
    CK_OBJECT_HANDLE z = 0;
    const CK_RV rv = derive(a, &ecdh, ecdh_private, &z);
    if (rv != CKR_OK) return rv;
    const keystore::UserRecord member = keystore::Keystore(ws_).find_user(m.user).value();
    std::string info = context(m);
    info.append(m.ephemeral_public_key.begin(), m.ephemeral_public_key.end());
    info.append(member.ecdh_public_key->begin(), member.ecdh_public_key->end());
    unsigned char digest[32];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(info.data()), info.size());
    CK_KEY_DERIVATION_STRING_DATA d{digest, sizeof digest};
    CK_MECHANISM ecb{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
    const CK_RV rv2 = derive(a, &ecb, z, out);
    a.fn()->C_DestroyObject(a.session(), z);
    return rv2;
  }
  std::string context(const keystore::GroupMember& m) {
    return "hsmctl v1 group|ops|" + m.user + "|p256|" + std::to_string(group_.key_version);
  }

  static CK_RV gcm_open(Attacker& a, CK_OBJECT_HANDLE key, const keystore::SealedBlob& b,
                        std::string aad, Blob* plain) {
    Blob nonce = blob(b.nonce), ct = blob(b.ciphertext);
    CK_GCM_PARAMS p{nonce.data(), nonce.size(), nonce.size() * 8,
                    reinterpret_cast<unsigned char*>(aad.data()), aad.size(), 128};
    CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
    const CK_RV init = a.fn()->C_DecryptInit(a.session(), &m, key);
    if (init != CKR_OK) return init;
    plain->assign(ct.size(), 0);
    CK_ULONG len = plain->size();
    const CK_RV rv = a.fn()->C_Decrypt(a.session(), ct.data(), ct.size(), plain->data(), &len);
    plain->resize(rv == CKR_OK ? len : 0);
    return rv;
  }

  // alice's KEK from her password, with the attacker's template.
  CK_OBJECT_HANDLE kek(Attacker& a, const std::string& password) {
    const Target mk_derive = only(a, "hsmctl-mk-derive");
    unsigned char material[32];
    const auto& k = alice_.secrets.kdf;
    EXPECT_EQ(crypto_pwhash(material, sizeof material, password.data(), password.size(),
                            k.salt.data(), k.opslimit, k.memlimit, crypto_pwhash_ALG_ARGON2ID13), 0);
    CK_KEY_DERIVATION_STRING_DATA d{material, sizeof material};
    CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(derive(a, &m, mk_derive.handle, &h), CKR_OK);
    return h;
  }

  // C_UnwrapKey(KWP) under MK-wrap as an EC private session key of the attacker's template.
  static CK_RV unwrap(Attacker& a, const Blob& b, bool sensitive, bool extractable,
                      CK_OBJECT_HANDLE* out) {
    const Target mk_wrap = only(a, "hsmctl-mk-wrap");
    CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_BBOOL s = sensitive, x = extractable;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &kNo, 1},          {CKA_SIGN, &kYes, 1},
                        {CKA_DERIVE, &kYes, 1},        {CKA_SENSITIVE, &s, 1},
                        {CKA_EXTRACTABLE, &x, 1}};
    *out = 0;
    Blob copy = b;
    return a.fn()->C_UnwrapKey(a.session(), &m, mk_wrap.handle, copy.data(), copy.size(), t, 7,
                               out);
  }

  keystore::UserRecord alice_;
  keystore::GroupRecord group_;
  std::vector<keystore::GroupMember> layers_;
};

TEST_F(GroupCustody, WithoutAMembersPasswordNoLayerOpensAndNoBlobUnwraps) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  ASSERT_EQ(layers_.size(), 2u);
  CK_OBJECT_HANDLE h = 0;
  for (const auto& m : layers_) {
    SCOPED_TRACE(m.user);
    // The sealed layer is no KWP blob that MK-wrap would unwrap, even as a sealed copy.
    EXPECT_EQ(unwrap(a, blob(m.sealed_key.ciphertext), true, false, &h), CKR_GENERAL_ERROR);
    // The attacker's own ECDH key against the stored ephemeral key agrees on another secret.
    CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_ATTRIBUTE pub_t[] = {{CKA_TOKEN, &kNo, 1}, {CKA_EC_PARAMS, p256, sizeof p256}};
    CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &kNo, 1}, {CKA_DERIVE, &kYes, 1}};
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ASSERT_EQ(a.fn()->C_GenerateKeyPair(a.session(), &gen, pub_t, 2, priv_t, 2, &pub, &priv),
              CKR_OK);
    CK_OBJECT_HANDLE key = 0;
    ASSERT_EQ(layer_key(a, priv, m, &key), CKR_OK);
    Blob plain;
    EXPECT_EQ(gcm_open(a, key, m.sealed_key, context(m), &plain), CKR_GENERAL_ERROR);
  }
  // alice's key-agreement key does not open under a guessed password.
  const CK_OBJECT_HANDLE guess = kek(a, "a guess");
  Blob inner;
  EXPECT_EQ(gcm_open(a, guess, *alice_.secrets.ecdh_key, "hsmctl v1 user|alice|ecdh-p256|1",
                     &inner), CKR_GENERAL_ERROR);
  // And no group, key-agreement or ephemeral key object is left on the token.
  size_t private_keys = 0;
  for (const auto& k : a.keys(""))
    if (k.cls == CKO_PRIVATE_KEY && !k.label.empty()) {
      ++private_keys;
      EXPECT_EQ(k.label.rfind("hsmctl-transcript", 0), 0u) << "'" << k.label << "'";
    }
  EXPECT_EQ(private_keys, 2u);  // the provisional and the escrowed transcript key
}

TEST_F(GroupCustody, WithOneMembersPasswordTheGroupKeyStillUnwrapsOnlySealed) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  // The logged password opens alice's key-agreement key...
  const CK_OBJECT_HANDLE k = kek(a, kAlicePassword);
  Blob agreement;
  ASSERT_EQ(gcm_open(a, k, *alice_.secrets.ecdh_key, "hsmctl v1 user|alice|ecdh-p256|1",
                     &agreement), CKR_OK);
  // ...which unwraps only as a sensitive, non-extractable key...
  CK_OBJECT_HANDLE ecdh = 0;
  EXPECT_EQ(unwrap(a, agreement, false, true, &ecdh), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(a, agreement, true, true, &ecdh), CKR_TEMPLATE_INCONSISTENT);
  ASSERT_EQ(unwrap(a, agreement, true, false, &ecdh), CKR_OK);
  // ...that still agrees on alice's layer key, so alice's layer opens (this is using alice's
  // factors: what a PIN holder with a logged password can do, hsmctl(1) SECURITY)...
  const keystore::GroupMember& layer = layers_.at(0);
  ASSERT_EQ(layer.user, "alice");
  CK_OBJECT_HANDLE key = 0;
  ASSERT_EQ(layer_key(a, ecdh, layer, &key), CKR_OK);
  Blob group_inner;
  ASSERT_EQ(gcm_open(a, key, layer.sealed_key, context(layer), &group_inner), CKR_OK);
  // ...but bob's layer does not open with alice's key...
  CK_OBJECT_HANDLE bob_key = 0;
  ASSERT_EQ(layer_key(a, ecdh, layers_.at(1), &bob_key), CKR_OK);
  Blob other;
  EXPECT_EQ(gcm_open(a, bob_key, layers_.at(1).sealed_key, context(layers_.at(1)), &other),
            CKR_GENERAL_ERROR);
  // ...and the group key inside unwraps only sealed: no extractable copy, no way out of it.
  CK_OBJECT_HANDLE g = 0;
  EXPECT_EQ(a.unwrap_blob_extractable(only(a, "hsmctl-mk-wrap"), group_inner),
            CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(a, group_inner, true, true, &g), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(a, group_inner, false, false, &g), CKR_TEMPLATE_INCONSISTENT);
  ASSERT_EQ(unwrap(a, group_inner, true, false, &g), CKR_OK);
  const Target copy{g, "", CKO_PRIVATE_KEY, CKK_EC};
  EXPECT_EQ(a.read_value(copy), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(a.wrap_under_own_key(copy), CKR_KEY_UNEXTRACTABLE);
  const CK_RV raised = a.raise_flag(copy, CKA_EXTRACTABLE);
  EXPECT_TRUE(raised == CKR_ATTRIBUTE_READ_ONLY || raised == CKR_ACTION_PROHIBITED)
      << rv_text(raised);
  const CK_RV copied = a.copy_weaker(copy, CKA_EXTRACTABLE, true);
  EXPECT_TRUE(copied == CKR_ATTRIBUTE_READ_ONLY || copied == CKR_ACTION_PROHIBITED)
      << rv_text(copied);
}

}  // namespace
}  // namespace hsm::custody
