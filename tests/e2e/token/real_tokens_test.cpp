// hsmctl against the real tokens Debian 12 packages that lack part of what it needs (issue 28):
// tpm2-pkcs11 1.9 on swtpm and opencryptoki 3.8's soft token, started per test in a temp dir.
// The *Today tests record what hsmctl does on them now, with stock pkcs11-tool snapshots of the
// token before and after, so a later change can assert "refused, token left exactly as it was".
// The profiles in tests/profiles/ that model these tokens are checked against their mechanisms.
#include <map>
#include <set>
#include <sstream>

#include "support/hsm_fixture.h"
#include "support/real_tokens.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

#define START_OR_SKIP(started)                                                          \
  do {                                                                                  \
    if ((started).unavailable()) GTEST_SKIP() << (started).failure();                   \
    ASSERT_EQ((started).failure(), "");                                                 \
    RecordProperty("startup_ms", static_cast<int>((started).token().startup.count()));  \
  } while (0)

class RealTokens : public ::testing::Test {
 protected:
  RealTokens() { fs::create_directories(ws_); }
  // hsmctl on `token`'s module, a workspace of its own, the PIN from env:PIN.
  RunResult hsmctl(const RealToken& token, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& extra = {}) {
    std::vector<std::string> argv{HSMCTL_BINARY, "--module", token.module};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env{{"HSMCTL_DIR", ws_.string()},
                                           {"HSMCTL_PIN_SOURCE", "env:PIN"},
                                           {"USER", "tester"}};
    for (const auto& [k, v] : extra) env[k] = v;
    return token.run(argv, env);
  }
  // The token as stock pkcs11-tool sees it (slots and, with `pin`, objects): equal snapshots
  // before and after a command mean it left the token exactly as it was.
  static std::string snapshot(const RealToken& token, const std::string& pin = {}) {
    return token.snapshot(pin);
  }
  // `hsmctl token list --json` sees the token's slot, with a token not yet initialised.
  void expect_listed_free(const RealToken& token) {
    const RunResult r = hsmctl(token, {"token", "list", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    bool found = false;
    const nlohmann::json doc = r.json();
    for (const auto& slot : doc["slots"])
      if (slot["slot_id"] == token.slot) {
        found = true;
        ASSERT_FALSE(slot["token"].is_null()) << r.out;
        EXPECT_FALSE(slot["token"]["initialized"].get<bool>()) << r.out;
      }
    EXPECT_TRUE(found) << "slot " << token.slot << " missing:\n" << r.out;
    // Kept lean: both start in well under a second here; a slow start should be noticed.
    EXPECT_LT(token.startup.count(), 20000) << token.name << " took " << token.startup.count()
                                            << " ms to start";
  }
  // Mechanism names pkcs11-tool -M prints ("  AES-GCM, keySize=..." -> "AES-GCM").
  static std::set<std::string> mechanisms(const RunResult& r) {
    EXPECT_EQ(r.code, 0) << r.err;
    std::set<std::string> names;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("  ", 0) == 0) names.insert(line.substr(2, line.find(',') - 2));
    return names;
  }
  // The profile shim's list over SoftHSM equals what the real token lists of what SoftHSM has.
  void expect_profile_models(const RealToken& token, const std::string& profile) {
    SoftHsm softhsm(tmp_.path() / "softhsm");
    auto env = softhsm.env();
    const auto softhsm_list = mechanisms(run_program(
        {"/usr/bin/pkcs11-tool", "--module", HSMCTL_SOFTHSM_MODULE, "-M"}, env));
    env["HSMCTL_PROFILE"] = shipped_profile(profile);
    const std::string shim = profile_shim_module();
    const auto shim_list = mechanisms(run_program({"/usr/bin/pkcs11-tool", "--module", shim, "-M"},
                                                  env));
    const auto real_list = mechanisms(token.tool({"--slot", std::to_string(token.slot), "-M"}));
    std::set<std::string> expected;
    for (const auto& m : real_list)
      if (softhsm_list.count(m)) expected.insert(m);
    EXPECT_EQ(shim_list, expected) << profile << " does not model " << token.name;
  }

  TempDir tmp_;
  fs::path ws_ = tmp_.path() / "ws";
};

TEST_F(RealTokens, Tpm2TokenIsListedAsAFreeSlot) {
  Tpm2Token tpm(tmp_.path());
  START_OR_SKIP(tpm);
  expect_listed_free(tpm.token());
}

// The TPM token cannot keep the custody contract (no AES key wrap, no GCM, no derivation):
// token check says what it lacks, and token init refuses before C_InitToken, naming it; the
// token is left exactly as it was.
TEST_F(RealTokens, Tpm2TokenIsRefusedBeforeItIsTouched) {
  Tpm2Token tpm(tmp_.path());
  START_OR_SKIP(tpm);
  const RealToken& token = tpm.token();
  const std::string before = snapshot(token);
  EXPECT_NE(before.find("uninitialized"), std::string::npos) << before;
  const std::string slot = std::to_string(token.slot);
  const RunResult check = hsmctl(token, {"--json", "token", "check", "--slot", slot}, {});
  EXPECT_EQ(check.code, 6) << check.out << check.err;
  const auto doc = nlohmann::json::parse(check.out);
  EXPECT_EQ(doc["mode"], "mechanism-list");
  EXPECT_EQ(doc["usable"], false);
  std::map<std::string, std::string> status;
  for (const auto& f : doc["features"]) status[f["id"]] = f["status"];
  EXPECT_EQ(status["transcript-key"], "listed");
  EXPECT_EQ(status["escrow-wrap"], "not-listed");
  // It lists CKM_SHA256_HMAC, so the mechanism list promises the KEK by HMAC and host GCM.
  EXPECT_EQ(status["kek-derive"], "fallback");
  EXPECT_EQ(status["aes-gcm"], "fallback");
  const RunResult r = hsmctl(token, {"token", "init", "--label", "ceremony", "--so-pin-source",
                                     "env:SO"},
                             {{"SO", "so-pin-5678"}, {"PIN", "user-pin-1234"}});
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot keep hsmctl's custody contract"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CKM_AES_KEY_WRAP_PAD"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed on it"), std::string::npos) << r.err;
  EXPECT_EQ(before, snapshot(token));
}

TEST_F(RealTokens, Tpm2ProfileModelsTheRealMechanismList) {
  Tpm2Token tpm(tmp_.path());
  START_OR_SKIP(tpm);
  expect_profile_models(tpm.token(), "tpm2-pkcs11-1.9");
}

TEST_F(RealTokens, OpencryptokiTokenIsListedAsAFreeSlot) {
  OpencryptokiToken ock(tmp_.path());
  START_OR_SKIP(ock);
  expect_listed_free(ock.token());
}

// opencryptoki's soft token has no EC at all: token check says so, and token init refuses
// before it asks for a PIN or calls C_InitToken (which would want the factory SO PIN); the
// token is left exactly as it was.
TEST_F(RealTokens, OpencryptokiTokenIsRefusedBeforeItIsTouched) {
  OpencryptokiToken ock(tmp_.path());
  START_OR_SKIP(ock);
  const RealToken& token = ock.token();
  const std::string before = snapshot(token);
  EXPECT_NE(before.find("uninitialized"), std::string::npos) << before;
  const std::string slot = std::to_string(token.slot);
  const RunResult check = hsmctl(token, {"token", "check", "--slot", slot}, {});
  EXPECT_EQ(check.code, 6) << check.out << check.err;
  EXPECT_NE(check.out.find("not-listed"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("CKM_EC_KEY_PAIR_GEN"), std::string::npos) << check.out;
  const RunResult r = hsmctl(token, {"token", "init", "--label", "ceremony", "--so-pin-source",
                                     "env:SO"},
                             {{"SO", "56785678"}, {"PIN", "12341234"}});
  EXPECT_EQ(r.code, 6) << r.out << r.err;
  EXPECT_NE(r.err.find("CKM_EC_KEY_PAIR_GEN"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("CKR_PIN_INCORRECT"), std::string::npos) << r.err;
  EXPECT_EQ(before, snapshot(token));
}

TEST_F(RealTokens, OpencryptokiProfileModelsTheRealMechanismList) {
  OpencryptokiToken ock(tmp_.path());
  START_OR_SKIP(ock);
  expect_profile_models(ock.token(), "opencryptoki-3.8-swtok");
}

}  // namespace
}  // namespace hsm::test
