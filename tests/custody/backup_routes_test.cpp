// The custody contract for backup files: a PIN holder who has a backup file but no shares cannot
// make a backup that restores (the HMAC needs BK, which only a quorum can derive), not even by
// putting blobs of their own, wrapped under MK-wrap, into it; and no blob in a backup unwraps
// under anything the token holds into a key that can be read out.
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <nlohmann/json.hpp>

#include "attacker.h"
#include "core/bytes.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

class BackupCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    const auto shares = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares).code, 0);
    two_ = write_file("two", read_file(shares / "a.share") + read_file(shares / "b.share")).string();
    ASSERT_EQ(hsmctl({"key", "generate", "k"}).code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--shares-file", two_}).code, 0);
    file_ = (tmp_.path() / "b.hsmbk").string();
    ASSERT_EQ(hsmctl({"backup", "create", "--out", file_, "--shares-file", two_}).code, 0);
    hsm_.init_token("B");
    ASSERT_EQ(hsmctl({"--token", "B", "master", "restore", "--shares-file", two_}).code, 0);
    const std::string all = read_file(file_);
    const std::size_t body_at = all.find('\n', all.find('\n') + 1) + 1;
    const std::size_t tag_at = all.rfind("\nhmac-sha256 ");
    body_ = nlohmann::json::parse(all.substr(body_at, tag_at - body_at));
    tag_ = all.substr(tag_at + 13, 64);
  }
  std::string assemble(const nlohmann::json& body, const std::string& tag) {
    const std::string b = body.dump();
    return "hsmctl-backup 1\n" + std::to_string(b.size()) + "\n" + b + "\nhmac-sha256 " + tag + "\n";
  }
  // The attacker's own EC P-256 key, extractable, wrapped under the token's MK-wrap.
  std::vector<unsigned char> own_blob_under_mk_wrap(Attacker& a, const Target& wrap) {
    CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_TOKEN, &no, sizeof no}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_SENSITIVE, &no, sizeof no},
                           {CKA_EXTRACTABLE, &yes, sizeof yes}};
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    EXPECT_EQ(a.fn()->C_GenerateKeyPair(a.session(), &gen, pub, 2, priv, 3, &hpub, &hpriv), CKR_OK);
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    std::vector<unsigned char> blob(4096);
    CK_ULONG len = blob.size();
    EXPECT_EQ(a.fn()->C_WrapKey(a.session(), &kwp, wrap.handle, hpriv, blob.data(), &len), CKR_OK);
    blob.resize(len);
    return blob;
  }
  std::string two_, file_, tag_;
  nlohmann::json body_;
};

TEST_F(BackupCustody, APinHolderWithoutSharesCannotMakeABackupThatRestores) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const auto wrap = a.keys("hsmctl-mk-wrap");
  ASSERT_EQ(wrap.size(), 1u);
  nlohmann::json forged = body_;
  for (auto& k : forged["keys"])
    if (k["label"] == "k") k["wrapped_key"] = to_base64(own_blob_under_mk_wrap(a, wrap[0]));
  // Their blob under the old tag, and under tags they can make without BK.
  const std::string zero(64, '0');
  const std::string flipped = std::string(1, tag_[0] == 'a' ? 'b' : 'a') + tag_.substr(1);
  for (const auto& [body, tag] : std::vector<std::pair<nlohmann::json, std::string>>{
           {forged, tag_}, {forged, zero}, {body_, zero}, {body_, flipped}}) {
    const std::string f = write_file("forged", assemble(body, tag)).string();
    test::expect_failure(hsmctl({"--token", "B", "backup", "restore", f, "--shares-file", two_}),
                         4, "HMAC");
    std::filesystem::remove(f);
  }
  // The control: the same file, re-assembled unchanged, restores.
  const std::string same = write_file("same", assemble(body_, tag_)).string();
  const test::RunResult ok = hsmctl({"--token", "B", "backup", "restore", same, "--shares-file", two_});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST_F(BackupCustody, NoBlobInTheBackupUnwrapsToAnythingExtractable) {
  for (const std::string token : {"test", "B"}) {
    SCOPED_TRACE(token);
    Attacker a(HSMCTL_SOFTHSM_MODULE, token, test::kPin);
    const auto wrap = a.keys("hsmctl-mk-wrap");
    ASSERT_EQ(wrap.size(), 1u);
    int mk_wrap_blobs = 0, quorum_blobs = 0;
    for (const auto& k : body_["keys"]) {
      const Bytes blob = from_base64(k["wrapped_key"].get<std::string>());
      const std::vector<unsigned char> b(blob.begin(), blob.end());
      SCOPED_TRACE(k["label"].get<std::string>());
      if (k["escrow"] == "mk-wrap") {
        ++mk_wrap_blobs;
        EXPECT_EQ(a.unwrap_blob_extractable(wrap[0], b), CKR_TEMPLATE_INCONSISTENT);
        EXPECT_EQ(a.unwrap_blob_sealed(wrap[0], b), CKR_OK);  // the control: it is an MK-wrap blob
      } else {
        ++quorum_blobs;
        for (const auto& wrapper : a.keys("hsmctl-")) {
          EXPECT_NE(a.unwrap_blob_extractable(wrapper, b), CKR_OK) << wrapper.label;
          EXPECT_NE(a.unwrap_blob_sealed(wrapper, b), CKR_OK) << wrapper.label;
        }
      }
    }
    EXPECT_EQ(mk_wrap_blobs, 2);  // k and the escrowed transcript key
    EXPECT_EQ(quorum_blobs, 1);
  }
}

}  // namespace
}  // namespace hsm::custody
