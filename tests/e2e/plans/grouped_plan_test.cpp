// Plans with share groups (hsmctl-plan(5), issue 32): a master init with --group and
// --group-threshold validates and rehearses end to end, a quorum key of the grouped set takes
// the fewest shares that recombine it, and the rehearsal's quorum steps (key generate --quorum,
// backup create) get a grouped quorum; wrong quorum numbers and bad group specs are refused at
// their lines.
#include <algorithm>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class GroupedPlan : public HsmTest {
 protected:
  // 2 of {board 2-of-3, ops 3-of-5}: the fewest shares are 2 + 3 = 5.
  static std::string plan(int quorum, const std::string& board = "board:2:ann,bob,cy") {
    return "[ceremony]\nname = \"grouped\"\nroles = [\"operator\", \"custodians\"]\n\n"  // 1-4
           "[[step]]\nrun = \"master init\"\nroles = [\"custodians\"]\n[step.args]\n"     // 5-8
           "group = [\"" + board + "\", \"ops:3:dee,eve,fay,gus,hal\"]\n"                 // 9
           "group-threshold = 2\n\n"                                                     // 10-11
           "[[step]]\nrun = \"key generate\"\npositional = [\"root\"]\n[step.args]\n"    // 12-15
           "algo = \"ec-p256\"\nquorum = " + std::to_string(quorum) + "\n\n"             // 16-18
           "[[step]]\nrun = \"backup create\"\nroles = [\"custodians\"]\n[step.args]\n"   // 19-22
           "out = \"root.hsmbk\"\n";                                                      // 23
  }
};

TEST_F(GroupedPlan, ValidatesAndRehearsesWithAGroupedQuorum) {
  const std::string file = write_file("plan.toml", plan(5)).string();
  const RunResult v = hsmctl({"ceremony", "validate", file});
  ASSERT_EQ(v.code, 0) << v.err;
  const auto dir = tmp_.path() / "rehearsal";
  const RunResult r =
      hsmctl({"--json", "--yes", "ceremony", "run", "--rehearse", "--rehearsal-dir", dir.string(),
              file});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto transcript = (dir / "workspace" / "transcript.jsonl").string();
  const std::string t = read_file(transcript);
  // The set has two groups, the quorum key records 5, and the backup was made with a quorum.
  EXPECT_NE(t.find("\"group_threshold\":2"), std::string::npos);
  EXPECT_NE(t.find("\"quorum\":5"), std::string::npos);
  EXPECT_NE(t.find("\"event\":\"backup.create\""), std::string::npos);
  const RunResult verify =
      hsmctl({"transcript", "verify", "--strict", "--head", r.json()["head"], transcript});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
}

TEST_F(GroupedPlan, AQuorumOtherThanTheFewestSharesIsRefusedAtItsLine) {
  const std::string file = write_file("plan.toml", plan(3)).string();
  const RunResult v = hsmctl({"ceremony", "validate", file});
  EXPECT_EQ(v.code, 2) << v.err;
  EXPECT_NE(v.err.find(file + ":17: "), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("use quorum = 5"), std::string::npos) << v.err;
}

TEST_F(GroupedPlan, ABadGroupIsRefusedAtItsLine) {
  const std::string file = write_file("plan.toml", plan(5, "board:4:ann,bob")).string();
  const RunResult v = hsmctl({"ceremony", "validate", file});
  EXPECT_EQ(v.code, 2) << v.err;
  EXPECT_EQ(v.err.rfind("hsmctl: error: " + file + ":9: ", 0), 0u) << v.err;
  EXPECT_NE(v.err.find("group 'board'"), std::string::npos) << v.err;
  EXPECT_EQ(std::count(v.err.begin(), v.err.end(), '\n'), 1) << v.err;  // no knock-on error
}

TEST_F(GroupedPlan, KeyGenerateOnAGroupedSetTakesTheFewestShares) {
  const auto shares = tmp_.path() / "shares";
  std::filesystem::create_directories(shares);
  std::filesystem::permissions(shares, std::filesystem::perms::owner_all);
  ASSERT_EQ(hsmctl({"master", "init", "--group", "board:2:ann,bob,cy", "--group",
                    "ops:3:dee,eve,fay,gus,hal", "--group-threshold", "2", "--shares-out",
                    shares.string()}).code, 0);
  const RunResult wrong = hsmctl({"key", "generate", "root", "--algo", "ec-p256", "--quorum", "2"});
  EXPECT_EQ(wrong.code, 2) << wrong.err;
  EXPECT_NE(wrong.err.find("use --quorum 5"), std::string::npos) << wrong.err;
  std::string quorum;
  for (const char* c : {"ann", "bob", "dee", "eve", "fay"})
    quorum += read_file(shares / (std::string(c) + ".share"));
  const auto file = write_file("quorum.shares", quorum);
  std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  const RunResult ok = hsmctl({"key", "generate", "root", "--algo", "ec-p256", "--quorum", "5",
                               "--shares-file", file.string()});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace hsm::test
