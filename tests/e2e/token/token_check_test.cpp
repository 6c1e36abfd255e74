// token check, and the refusals of token init and master init built on it: SoftHSM supports
// every feature; through the mechanism-profile shim (tests/profileshim), each profile modelled
// on a real token or vendor is told apart by the call, mechanism, attribute and return code the
// token refused, and a ceremony on such a token stops before it changes anything.
#include <nlohmann/json.hpp>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class TokenCheck : public HsmTest {
 protected:
  static std::string shim() { return profile_shim_module(); }
  static std::string shipped(const std::string& name) { return shipped_profile(name); }
  std::map<std::string, std::string> through(const std::string& profile) {
    return {{"HSMCTL_MODULE", shim()}, {"HSMCTL_PROFILE", profile}};
  }
  // feature id -> the feature's JSON object.
  static std::map<std::string, nlohmann::json> features(const RunResult& r) {
    std::map<std::string, nlohmann::json> out;
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    for (const auto& f : doc["features"]) out[f["id"].get<std::string>()] = f;
    return out;
  }
  // What stock pkcs11-tool sees on the token "test": its slot line and its objects.
  std::string objects() {
    return run_program({"/usr/bin/pkcs11-tool", "--module", HSMCTL_SOFTHSM_MODULE,
                        "--token-label", "test", "--login", "--pin", kPin, "--list-objects"},
                       hsm_.env()).out;
  }
  std::string slots() {
    return run_program({"/usr/bin/pkcs11-tool", "--module", HSMCTL_SOFTHSM_MODULE,
                        "--list-token-slots"}, hsm_.env()).out;
  }
};

TEST_F(TokenCheck, SoftHsmSupportsEveryFeatureAndNothingIsLeftOnIt) {
  const std::string before = objects();
  const RunResult r = hsmctl({"--json", "token", "check"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["mode"], "operations");
  EXPECT_EQ(doc["usable"], true);
  const auto f = features(r);
  for (const char* id : {"transcript-key", "master-keys", "escrow-wrap", "custody", "kek-derive",
                         "aes-gcm", "ecdh", "ec-p384", "rsa", "ed25519"}) {
    ASSERT_TRUE(f.contains(id)) << id;
    EXPECT_EQ(f.at(id)["status"], "supported") << id;
  }
  EXPECT_EQ(objects(), before);
  const RunResult text = hsmctl({"token", "check"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("hsmctl can use this token"), std::string::npos) << text.out;
}

// Each profile, and what the check must name: the refused call, mechanism, attribute, code.
// (no-ecb-encrypt-data, unwrap-only-import and no-gcm pass through a fallback:
// fallback_flow_test.cpp.)
TEST_F(TokenCheck, EachProfileIsRefusedNamingWhatTheTokenWouldNotDo) {
  struct Row {
    std::string profile, feature, call, mechanism, attribute, rv;
  };
  const std::vector<Row> table = {
      {"tpm2-pkcs11-1.9", "transcript-key", "C_GenerateKeyPair", "CKM_EC_KEY_PAIR_GEN",
       "CKA_DECRYPT=false", "CKR_GENERAL_ERROR"},
      {"tpm2-pkcs11-1.9", "master-keys", "C_CreateObject", "", "", "CKR_ATTRIBUTE_VALUE_INVALID"},
      {"opencryptoki-3.8-swtok", "transcript-key", "C_GenerateKeyPair", "CKM_EC_KEY_PAIR_GEN", "",
       "CKR_MECHANISM_INVALID"},
      {"opencryptoki-3.8-swtok", "master-keys", "C_CreateObject", "", "CKA_ALLOWED_MECHANISMS",
       "CKR_ATTRIBUTE_TYPE_INVALID"},
  };
  for (const Row& row : table) {
    SCOPED_TRACE(row.profile + " " + row.feature);
    const RunResult r = hsmctl({"--json", "token", "check"}, through(shipped(row.profile)));
    ASSERT_EQ(r.code, 6) << r.out << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["usable"], false);
    const nlohmann::json f = features(r).at(row.feature);
    EXPECT_EQ(f["status"], "not-supported") << f;
    EXPECT_EQ(f.value("call", ""), row.call) << f;
    EXPECT_EQ(f.value("mechanism", ""), row.mechanism) << f;
    EXPECT_EQ(f.value("attribute", ""), row.attribute) << f;
    EXPECT_EQ(f.value("rv", ""), row.rv) << f;
  }
  const RunResult full = hsmctl({"token", "check"}, through(shipped("full")));
  EXPECT_EQ(full.code, 0) << full.out << full.err;
}

// Neither AES-ECB-ENCRYPT-DATA nor HMAC: no KEK derivation, native or through its fallback.
TEST_F(TokenCheck, MasterInitOnATokenWithoutAnyKekDerivationIsRefusedBeforeAnythingIsMadeOnIt) {
  const std::string before = objects();
  make_private_dir(tmp_.path() / "shares");
  const std::string profile =
      write_file("no-derivation.profile", "# neither KEK derivation\nhide CKM_AES_ECB_ENCRYPT_DATA\n"
                 "hide CKM_SHA256_HMAC\n", 0644).string();
  const RunResult r = hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                              "--shares-out", (tmp_.path() / "shares").string()},
                             through(profile));
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("master init: token 'test'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("C_DeriveKey CKM_AES_ECB_ENCRYPT_DATA: CKR_MECHANISM_INVALID"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed on it"), std::string::npos) << r.err;
  EXPECT_EQ(objects(), before);
  EXPECT_TRUE(fs::is_empty(tmp_.path() / "shares"));
}

TEST_F(TokenCheck, TokenInitRefusesAFreeSlotWhoseMechanismListLacksWrapping) {
  const std::string before = slots();
  // The free slot: judged by its mechanism list (no session can log in to it).
  std::string free_slot;
  const nlohmann::json list = nlohmann::json::parse(
      hsmctl({"--json", "token", "list"}, through(shipped("tpm2-pkcs11-1.9"))).out);
  for (const auto& slot : list["slots"])
    if (!slot["token"]["initialized"].get<bool>()) free_slot = std::to_string(slot["slot_id"].get<unsigned long>());
  ASSERT_FALSE(free_slot.empty());
  const RunResult check = hsmctl({"--json", "token", "check", "--slot", free_slot},
                                 through(shipped("tpm2-pkcs11-1.9")));
  EXPECT_EQ(check.code, 6) << check.out << check.err;
  EXPECT_EQ(nlohmann::json::parse(check.out)["mode"], "mechanism-list");
  EXPECT_EQ(features(check).at("escrow-wrap")["status"], "not-listed");
  EXPECT_EQ(features(check).at("escrow-wrap")["mechanism"], "CKM_AES_KEY_WRAP_PAD");
  EXPECT_EQ(features(check).at("transcript-key")["status"], "listed");
  const RunResult r = hsmctl({"token", "init", "--label", "tpm-like", "--so-pin-source", "env:SO"},
                             [&] {
                               auto env = through(shipped("tpm2-pkcs11-1.9"));
                               env["SO"] = kSoPin;
                               env["PIN"] = kPin;
                               return env;
                             }());
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot keep hsmctl's custody contract"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the mechanism list has no CKM_AES_KEY_WRAP_PAD"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed on it"), std::string::npos) << r.err;
  EXPECT_EQ(slots(), before);
}

// A token whose mechanism list promises what it then refuses (an attribute) passes the check
// before C_InitToken; the check after C_InitPIN, before any hsmctl object is made, names the
// refusal and says what state the token is in.
TEST_F(TokenCheck, TokenInitSaysWhatStateATokenIsLeftInWhenOperationsFailAfterInit) {
  const std::string profile =
      write_file("decrypt.profile",
                 "# lists everything; refuses CKA_DECRYPT=false on EC private keys\n"
                 "refuse C_GenerateKeyPair CKO_PRIVATE_KEY CKK_EC CKA_DECRYPT=false "
                 "CKR_GENERAL_ERROR\n", 0644).string();
  auto env = through(profile);
  env["SO"] = kSoPin;
  env["PIN"] = kPin;
  const RunResult r = hsmctl({"token", "init", "--label", "picky", "--so-pin-source", "env:SO"},
                             env);
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("C_GenerateKeyPair CKM_EC_KEY_PAIR_GEN refused CKA_DECRYPT=false: "
                       "CKR_GENERAL_ERROR"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("initialised with its SO and user PINs but holds no hsmctl object"),
            std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(ws_ / "transcript.jsonl") &&
               read_file(ws_ / "transcript.jsonl").find("picky") != std::string::npos);
}

}  // namespace
}  // namespace hsm::test
