// The custody contract for encryption groups and their DEKs, from the attacker's side: with the
// PIN, the keystore, an encrypted file and every member's public data, but no member's
// password, no DEK and no plaintext comes out: the wrapped DEK unwraps under no key the token
// holds or the attacker can derive (MK-wrap, MK-derive, their own ECDH key against the file's
// one-use key), and no layer opens. A member's layer does not open with another member's
// password; with their own, the attacker can do what `dek open` does, which is the control that
// the derivations tried above were the right ones. dek rewrap's session DEK never reaches a PIN
// holder. (docs/design.md, "Group data keys".)
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attacker.h"
#include "core/keystore/keystore.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

using DataBlob = std::vector<unsigned char>;
CK_BBOOL kDataYes = CK_TRUE, kDataNo = CK_FALSE;

const std::string kAlicePw = "alice's password", kBobPw = "bob's secret";

class DataCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    const std::map<std::string, std::string> env{{"PWA", kAlicePw}, {"PWB", kBobPw}};
    for (const auto& [u, var] : {std::pair{"alice", "PWA"}, std::pair{"bob", "PWB"}})
      ASSERT_EQ(hsmctl({"user", "create", u, "--kdf-profile", "min", "--password-source",
                        std::string("env:") + var}, env).code, 0);
    ASSERT_EQ(hsmctl({"group", "create", "vault", "--purpose", "encrypt", "--members",
                      "alice,bob"}).code, 0);
    const auto in = write_file("secret.txt", "the plaintext nobody may read\n");
    const auto enc = tmp_.path() / "secret.enc";
    ASSERT_EQ(hsmctl({"data", "encrypt", "--group", "vault", "--in", in.string(), "--out",
                      enc.string(), "--context", "k=v"}).code, 0);
    const std::string file = read_file(enc);
    const std::size_t n = (static_cast<unsigned char>(file[10]) << 8) |
                          static_cast<unsigned char>(file[11]);
    header_ = nlohmann::json::parse(file.substr(12, n));
    wrapped_ = from_base64(header_["wrapped_dek"].get<std::string>());
    ephemeral_ = from_base64(header_["ephemeral_public_key"].get<std::string>());
    keystore::Keystore ks(ws_);
    alice_ = *ks.find_user("alice");
    group_ = *ks.find_group("vault");
    layers_ = ks.list_group_members("vault");
  }

  static Target only(Attacker& a, const std::string& label) {
    const auto keys = a.keys(label);
    EXPECT_EQ(keys.size(), 1u) << label;
    return keys.at(0);
  }

  // An AES key derived with the attacker's own template: readable, and able to unwrap.
  static CK_RV derive(Attacker& a, CK_MECHANISM* m, CK_OBJECT_HANDLE base, CK_OBJECT_HANDLE* out) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},    {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &kDataNo, 1},         {CKA_SENSITIVE, &kDataNo, 1},
                        {CKA_EXTRACTABLE, &kDataYes, 1},  {CKA_DECRYPT, &kDataYes, 1},
                        {CKA_UNWRAP, &kDataYes, 1},       {CKA_DERIVE, &kDataYes, 1},
                        {CKA_VALUE_LEN, &len, sizeof len}};
    *out = 0;
    return a.fn()->C_DeriveKey(a.session(), m, base, t, 9, out);
  }

  // SHA-256 of the KEK derivation data of hsmctl-data(5), for the file's envelope.
  DataBlob kdf_data() {
    std::string d = "hsmctl v1 dek";
    auto lp = [&](const std::string& x) {
      for (int s = 24; s >= 0; s -= 8) d.push_back(static_cast<char>((x.size() >> s) & 0xff));
      d += x;
    };
    lp("vault");
    lp(std::string("\0\0\0\0\0\0\0\1", 8));
    const Bytes id = from_hex(header_["dek_id"].get<std::string>());
    lp(std::string(id.begin(), id.end()));
    lp(R"({"k":"v"})");
    lp(std::string(ephemeral_.begin(), ephemeral_.end()));
    lp(std::string(group_.public_key.begin(), group_.public_key.end()));
    DataBlob digest(32);
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(d.data()), d.size());
    return digest;
  }

  // C_UnwrapKey of the file's wrapped DEK under `kek` with `mechanism`, asking for a readable
  // AES key: the route out if the KEK were right.
  CK_RV unwrap_dek(Attacker& a, CK_OBJECT_HANDLE kek, CK_MECHANISM_TYPE mechanism) {
    CK_MECHANISM m{mechanism, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &kDataNo, 1},      {CKA_SENSITIVE, &kDataNo, 1},
                        {CKA_EXTRACTABLE, &kDataYes, 1}};
    CK_OBJECT_HANDLE out = 0;
    DataBlob copy(wrapped_.begin(), wrapped_.end());
    return a.fn()->C_UnwrapKey(a.session(), &m, kek, copy.data(), copy.size(), t, 5, &out);
  }

  static CK_RV gcm_open(Attacker& a, CK_OBJECT_HANDLE key, const keystore::SealedBlob& b,
                        std::string aad, DataBlob* out = nullptr) {
    DataBlob nonce(b.nonce.begin(), b.nonce.end()), ct(b.ciphertext.begin(), b.ciphertext.end());
    CK_GCM_PARAMS p{nonce.data(), nonce.size(), nonce.size() * 8,
                    reinterpret_cast<unsigned char*>(aad.data()), aad.size(), 128};
    CK_MECHANISM m{CKM_AES_GCM, &p, sizeof p};
    const CK_RV init = a.fn()->C_DecryptInit(a.session(), &m, key);
    if (init != CKR_OK) return init;
    DataBlob plain(ct.size());
    CK_ULONG len = plain.size();
    const CK_RV rv = a.fn()->C_Decrypt(a.session(), ct.data(), ct.size(), plain.data(), &len);
    plain.resize(rv == CKR_OK ? len : 0);
    if (out != nullptr) *out = plain;
    return rv;
  }

  // C_UnwrapKey(KWP) under MK-wrap as a sensitive, non-extractable ECDH session key (what
  // MK-wrap's unwrap template allows).
  static CK_OBJECT_HANDLE unwrap_ecdh(Attacker& a, DataBlob b) {
    CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},  {CKA_KEY_TYPE, &kt, sizeof kt},
                        {CKA_TOKEN, &kDataNo, 1},       {CKA_DERIVE, &kDataYes, 1},
                        {CKA_SENSITIVE, &kDataYes, 1},  {CKA_EXTRACTABLE, &kDataNo, 1}};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(a.fn()->C_UnwrapKey(a.session(), &m, only(a, "hsmctl-mk-wrap").handle, b.data(),
                                  b.size(), t, 6, &h), CKR_OK);
    return h;
  }

  // ECDH of `priv` with the P-256 point at the end of `spki`, then AES-ECB of `data`: both keys
  // with the attacker's template.
  static CK_OBJECT_HANDLE agree_then_derive(Attacker& a, CK_OBJECT_HANDLE priv, const Bytes& spki,
                                            DataBlob data) {
    DataBlob point(spki.end() - 65, spki.end());
    CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
    CK_MECHANISM ecdh{CKM_ECDH1_DERIVE, &p, sizeof p};
    CK_OBJECT_HANDLE z = 0, k = 0;
    EXPECT_EQ(derive(a, &ecdh, priv, &z), CKR_OK);
    CK_KEY_DERIVATION_STRING_DATA d{data.data(), data.size()};
    CK_MECHANISM ecb{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
    EXPECT_EQ(derive(a, &ecb, z, &k), CKR_OK);
    return k;
  }

  // A user's KEK from a password (the attacker knows the salt and costs from the keystore).
  CK_OBJECT_HANDLE kek_of(Attacker& a, const keystore::UserRecord& u, const std::string& pw) {
    unsigned char material[32];
    const auto& k = u.secrets.kdf;
    EXPECT_EQ(crypto_pwhash(material, sizeof material, pw.data(), pw.size(), k.salt.data(),
                            k.opslimit, k.memlimit, crypto_pwhash_ALG_ARGON2ID13), 0);
    CK_KEY_DERIVATION_STRING_DATA d{material, sizeof material};
    CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(derive(a, &m, only(a, "hsmctl-mk-derive").handle, &h), CKR_OK);
    return h;
  }

  nlohmann::json header_;
  Bytes wrapped_, ephemeral_;
  keystore::UserRecord alice_;
  keystore::GroupRecord group_;
  std::vector<keystore::GroupMember> layers_;
};

TEST_F(DataCustody, WithoutAMembersPasswordNoDekAndNoPlaintextComesOut) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  ASSERT_EQ(wrapped_.size(), 40u);
  // MK-wrap unwraps with AES-KWP only, and the DEK was never wrapped under it.
  const Target mk_wrap = only(a, "hsmctl-mk-wrap");
  EXPECT_EQ(unwrap_dek(a, mk_wrap.handle, CKM_AES_KEY_WRAP), CKR_MECHANISM_INVALID);
  EXPECT_NE(unwrap_dek(a, mk_wrap.handle, CKM_AES_KEY_WRAP_PAD), CKR_OK);
  // A "KEK" derived from MK-derive with the documented data is not the KEK.
  DataBlob data = kdf_data();
  CK_KEY_DERIVATION_STRING_DATA d{data.data(), data.size()};
  CK_MECHANISM ecb{CKM_AES_ECB_ENCRYPT_DATA, &d, sizeof d};
  CK_OBJECT_HANDLE kek = 0;
  ASSERT_EQ(derive(a, &ecb, only(a, "hsmctl-mk-derive").handle, &kek), CKR_OK);
  EXPECT_EQ(unwrap_dek(a, kek, CKM_AES_KEY_WRAP), CKR_GENERAL_ERROR);
  // The attacker's own ECDH key against the file's one-use key agrees on another secret.
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_ATTRIBUTE pub_t[] = {{CKA_TOKEN, &kDataNo, 1}, {CKA_EC_PARAMS, p256, sizeof p256}};
  CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &kDataNo, 1}, {CKA_DERIVE, &kDataYes, 1}};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(a.fn()->C_GenerateKeyPair(a.session(), &gen, pub_t, 2, priv_t, 2, &pub, &priv),
            CKR_OK);
  DataBlob point(ephemeral_.end() - 65, ephemeral_.end());
  CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM ecdh{CKM_ECDH1_DERIVE, &p, sizeof p};
  CK_OBJECT_HANDLE z = 0, kek2 = 0;
  ASSERT_EQ(derive(a, &ecdh, priv, &z), CKR_OK);
  ASSERT_EQ(derive(a, &ecb, z, &kek2), CKR_OK);
  EXPECT_EQ(unwrap_dek(a, kek2, CKM_AES_KEY_WRAP), CKR_GENERAL_ERROR);
  // The members' layers are no blobs MK-wrap unwraps, and the group key is on no token.
  for (const auto& m : layers_) {
    DataBlob b(m.sealed_key.ciphertext.begin(), m.sealed_key.ciphertext.end());
    EXPECT_EQ(a.unwrap_blob_sealed(mk_wrap, b), CKR_GENERAL_ERROR) << m.user;
  }
  for (const auto& k : a.keys("")) {
    if (k.cls == CKO_PRIVATE_KEY && !k.label.empty()) {
      EXPECT_EQ(k.label.rfind("hsmctl-transcript", 0), 0u) << "'" << k.label << "'";
    }
  }
}

TEST_F(DataCustody, AMembersLayerOpensWithTheirPasswordOnlyAndThenTheDekComesOut) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const std::string aad = "hsmctl v1 user|alice|ecdh-p256|1";
  // bob's password derives bob's KEK from alice's salt: not alice's KEK.
  EXPECT_EQ(gcm_open(a, kek_of(a, alice_, kBobPw), *alice_.secrets.ecdh_key, aad),
            CKR_GENERAL_ERROR);
  // The control, which also shows the routes above used the right derivation data: with
  // alice's own password her layer opens, and the group key in it unwraps the DEK, exactly what
  // 'hsmctl dek open --as alice' does (and records).
  DataBlob agreement;
  ASSERT_EQ(gcm_open(a, kek_of(a, alice_, kAlicePw), *alice_.secrets.ecdh_key, aad, &agreement),
            CKR_OK);
  const keystore::GroupMember& layer = layers_.at(0);
  ASSERT_EQ(layer.user, "alice");
  const std::string context = "hsmctl v1 group|vault|alice|ecdh-p256|1";
  std::string info = context;
  info.append(layer.ephemeral_public_key.begin(), layer.ephemeral_public_key.end());
  info.append(alice_.ecdh_public_key->begin(), alice_.ecdh_public_key->end());
  DataBlob digest(32);
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(info.data()),
                     info.size());
  const CK_OBJECT_HANDLE layer_key =
      agree_then_derive(a, unwrap_ecdh(a, agreement), layer.ephemeral_public_key, digest);
  DataBlob group_inner;
  ASSERT_EQ(gcm_open(a, layer_key, layer.sealed_key, context, &group_inner), CKR_OK);
  const CK_OBJECT_HANDLE kek = agree_then_derive(a, unwrap_ecdh(a, group_inner), ephemeral_,
                                                 kdf_data());
  EXPECT_EQ(unwrap_dek(a, kek, CKM_AES_KEY_WRAP), CKR_OK);
}

// dek rewrap unwraps the DEK as an extractable (sensitive, usage-less) session key so the token
// can wrap it again: that key is a session object of hsmctl's process and is gone when it ends.
// Afterwards a PIN holder finds no extractable secret key on the token, cannot unwrap the
// rewrapped DEK by the routes above, and cannot make a key CKA_TRUSTED (SoftHSM lets only the SO),
// which is why the rewrap cannot rely on CKA_WRAP_WITH_TRUSTED.
TEST_F(DataCustody, TheRewrapsSessionDekStaysInTheTokenAndTheRewrappedDekOpensForNoPinHolder) {
  const auto dek = tmp_.path() / "v1.dek", moved = tmp_.path() / "v2.dek";
  ASSERT_EQ(hsmctl({"dek", "new", "--group", "vault", "--out", dek.string()}).code, 0);
  ASSERT_EQ(hsmctl({"group", "remove", "vault", "bob"}).code, 0);
  const test::RunResult r = hsmctl({"dek", "rewrap", "--as", "alice", "--in", dek.string(),
                                    "--out", moved.string(), "--password-source", "env:PWA"},
                                   {{"PWA", kAlicePw}});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto env = nlohmann::json::parse(read_file(moved));
  wrapped_ = from_base64(env["wrapped_dek"].get<std::string>());
  ephemeral_ = from_base64(env["ephemeral_public_key"].get<std::string>());

  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  for (const auto& k : a.keys("")) {
    if (k.cls != CKO_SECRET_KEY) continue;
    CK_BBOOL extractable = CK_TRUE;
    CK_ATTRIBUTE at{CKA_EXTRACTABLE, &extractable, 1};
    ASSERT_EQ(a.fn()->C_GetAttributeValue(a.session(), k.handle, &at, 1), CKR_OK);
    EXPECT_EQ(extractable, CK_FALSE) << "'" << k.label << "'";
  }
  const Target mk_wrap = only(a, "hsmctl-mk-wrap");
  EXPECT_EQ(unwrap_dek(a, mk_wrap.handle, CKM_AES_KEY_WRAP), CKR_MECHANISM_INVALID);
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_ATTRIBUTE pub_t[] = {{CKA_TOKEN, &kDataNo, 1}, {CKA_EC_PARAMS, p256, sizeof p256}};
  CK_ATTRIBUTE priv_t[] = {{CKA_TOKEN, &kDataNo, 1}, {CKA_DERIVE, &kDataYes, 1}};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(a.fn()->C_GenerateKeyPair(a.session(), &gen, pub_t, 2, priv_t, 2, &pub, &priv),
            CKR_OK);
  const CK_OBJECT_HANDLE kek =
      agree_then_derive(a, priv, Bytes(ephemeral_.begin(), ephemeral_.end()), DataBlob(32, 7));
  EXPECT_EQ(unwrap_dek(a, kek, CKM_AES_KEY_WRAP), CKR_GENERAL_ERROR);
  // A trusted wrapping key of the PIN holder's own: refused to a user session.
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  unsigned char value[32] = {1};
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &kDataNo, 1},      {CKA_WRAP, &kDataYes, 1},
                      {CKA_TRUSTED, &kDataYes, 1},   {CKA_VALUE, value, sizeof value}};
  CK_OBJECT_HANDLE trusted = 0;
  EXPECT_NE(a.fn()->C_CreateObject(a.session(), t, 6, &trusted), CKR_OK);
}

}  // namespace
}  // namespace hsm::custody
