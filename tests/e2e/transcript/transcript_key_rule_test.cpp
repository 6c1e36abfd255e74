// Once a workspace's transcript key is escrowed (master init), no ceremony signs on with an
// unendorsed key because another token is plugged in: a token without the key is refused,
// naming the ceremonies that put it there, and the transcript stays as it was; a token made by
// `token init` and filled by `clone` signs with the escrowed key, so --strict keeps passing.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class EscrowedKeyRule : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares_).code, 0);
  }
  std::vector<std::string> with_shares(std::vector<std::string> args) {
    for (const char* who : {"a", "b"})
      args.insert(args.end(),
                  {"--shares-file", (shares_ / (std::string(who) + ".share")).string()});
    return args;
  }
  fs::path shares_;
};

TEST_F(EscrowedKeyRule, ATokenWithoutTheEscrowedKeyIsRefusedAndNothingIsRecorded) {
  hsm_.init_token("other");
  const std::string before = read_file(ws_ / "transcript.jsonl");
  const RunResult r = hsmctl({"--token", "other", "transcript", "note", "--witness", "w", "x"});
  expect_failure(r, 7, "token 'other' does not hold this workspace's transcript key");
  EXPECT_NE(r.err.find("hsmctl --token other master restore"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("backup restore"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(ws_ / "transcript.jsonl"), before);
  // Nothing was made on the other token either.
  const RunResult objects = hsmctl({"--token", "other", "token", "objects", "--json"});
  ASSERT_EQ(objects.code, 0) << objects.err;
  EXPECT_TRUE(objects.json()["objects"].empty()) << objects.out;
  // The workspace's own token still signs, and the transcript has no key change but master init's.
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "w", "back on test"}).code, 0);
  const RunResult v = hsmctl({"transcript", "verify", "--strict", "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["key_changes"].size(), 1u);
}

TEST_F(EscrowedKeyRule, CloneOntoATokenMadeByTokenInitKeepsStrictPassing) {
  const RunResult init = hsmctl({"token", "init", "--label", "B", "--so-pin-source", "env:SO"},
                                {{"SO", kSoPin}});
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  const RunResult clone = hsmctl(with_shares({"clone", "--from-token", "test", "--to-token", "B"}));
  ASSERT_EQ(clone.code, 0) << clone.err;
  // The clone signs on B with the escrowed key it installed there: a note on B needs no change.
  ASSERT_EQ(hsmctl({"--token", "B", "transcript", "note", "--witness", "w", "on B"}).code, 0);
  const RunResult v = hsmctl({"transcript", "verify", "--strict", "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["key_changes"].size(), 1u);  // master init's endorsed change only
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("\"event\":\"token.init\""),
            std::string::npos);
}

TEST_F(EscrowedKeyRule, CloneOntoATokenInitialisedForAnotherWorkspaceKeepsStrictPassing) {
  // B is made in a workspace of its own, so it holds that workspace's provisional key, under
  // the same label as this workspace's escrowed key.
  const std::string other = (tmp_.path() / "other-ws").string();
  ASSERT_EQ(hsmctl({"--dir", other, "token", "init", "--label", "B", "--so-pin-source",
                    "env:SO"}, {{"SO", kSoPin}}).code, 0);
  const RunResult clone = hsmctl(with_shares({"clone", "--from-token", "test", "--to-token", "B"}));
  ASSERT_EQ(clone.code, 0) << clone.err;
  ASSERT_EQ(hsmctl({"--token", "B", "transcript", "note", "--witness", "w", "on B"}).code, 0);
  const RunResult v = hsmctl({"transcript", "verify", "--strict", "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["key_changes"].size(), 1u);
  // The other workspace still signs with its own key on B.
  EXPECT_EQ(hsmctl({"--dir", other, "--token", "B", "transcript", "note", "--witness", "w",
                    "still mine"}).code, 0);
  EXPECT_EQ(hsmctl({"--dir", other, "transcript", "verify", "--strict"}).code, 0);
}

TEST_F(EscrowedKeyRule, TokenInitNamingTheNewTokenAsTheSignerIsAUsageError) {
  expect_failure(hsmctl({"--token", "B", "token", "init", "--label", "B", "--so-pin-source",
                         "env:SO"}, {{"SO", kSoPin}}),
                 2, "name the token that holds it with --token");
}

}  // namespace
}  // namespace hsm::test
