// Two-level share sets (SLIP-0039 groups): master init --group NAME:M:a,b,c --group-threshold G;
// restore needs G groups each with its threshold of members and says which groups fall short;
// verify-share names the group; reshare moves between single-level and grouped sets; cards
// name the group; bad --group values are refused before the token is touched.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class ShareGroups : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    make_private_dir(shares_);
  }
  RunResult init_grouped(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"master", "init", "--group", "board:2:ann,bob,cy", "--group",
                                  "ops:3:dee,eve,fay,gus", "--group-threshold", "2",
                                  "--shares-out", shares_.string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  std::filesystem::path shares_of(const std::vector<std::string>& who, const std::string& name) {
    std::string content;
    for (const auto& w : who) content += read_file(shares_ / (w + ".share"));
    return write_file(name, content);
  }
  std::filesystem::path shares_;
};

TEST_F(ShareGroups, InitRecordsTheGroupsAndRestoreNeedsEnoughGroups) {
  const RunResult r = init_grouped();
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = r.json();
  ASSERT_EQ(doc["groups"].size(), 2u);
  EXPECT_EQ(doc["groups"][1]["name"], "ops");
  EXPECT_EQ(doc["groups"][1]["threshold"], 3);
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(transcript.find("\"group_threshold\":2,\"groups\":[{\"custodians\":[\"ann\",\"bob\","
                            "\"cy\"],\"name\":\"board\",\"threshold\":2}"),
            std::string::npos);
  const auto status = hsmctl({"master", "status", "--json"}).json();
  EXPECT_EQ(status["group_threshold"], 2);
  EXPECT_EQ(status["groups"][0]["name"], "board");

  hsm_.init_token("B");
  const auto restore = [&](const std::filesystem::path& f) {
    return hsmctl({"--token", "B", "master", "restore", "--shares-file", f.string(), "--json"});
  };
  // The board complete, ops one short: refused, naming both.
  expect_failure(restore(shares_of({"ann", "cy", "dee", "gus"}, "short")), 5,
                 "'board' (2 of 2 shares); short: 'ops' (2 of 3 shares)");
  // A third board share is not needed and is left out; ops complete: restored.
  const RunResult ok = restore(shares_of({"ann", "bob", "cy", "eve", "fay", "gus"}, "enough"));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.json()["kcv"], doc["kcv"]);
}

TEST_F(ShareGroups, VerifyShareNamesTheGroup) {
  ASSERT_EQ(init_grouped().code, 0);
  const RunResult v = hsmctl({"master", "verify-share", "--share-file",
                              (shares_ / "fay.share").string(), "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  const auto j = v.json();
  EXPECT_EQ(j["custodian"], "fay");
  EXPECT_EQ(j["group"], "ops");
  EXPECT_EQ(j["member_index"], 3);
  EXPECT_EQ(j["custodians"], 4);
  EXPECT_EQ(j["threshold"], 3);
  EXPECT_EQ(j["group_threshold"], 2);
  const RunResult text = hsmctl({"master", "verify-share", "--share-file",
                                 (shares_ / "fay.share").string()});
  EXPECT_NE(text.out.find("member 3 of 4 in group 'ops'"), std::string::npos) << text.out;
}

TEST_F(ShareGroups, ReshareFromGroupsToOneGroupAndBack) {
  ASSERT_EQ(init_grouped().code, 0);
  const auto out1 = tmp_.path() / "single";
  make_private_dir(out1);
  const RunResult single = hsmctl({"master", "reshare", "--threshold", "2", "--custodians",
                                   "kim,lee", "--shares-file",
                                   shares_of({"ann", "bob", "dee", "eve", "fay"}, "cur").string(),
                                   "--shares-out", out1.string(), "--json"});
  ASSERT_EQ(single.code, 0) << single.err;
  EXPECT_TRUE(single.json()["groups"].empty());
  const auto cards = tmp_.path() / "cards";
  make_private_dir(cards);
  const auto cur = write_file("cur2", read_file(out1 / "kim.share") + read_file(out1 / "lee.share"));
  const RunResult grouped = hsmctl({"master", "reshare", "--group", "east:2:amy,ben",
                                    "--group", "west:2:cal,dan", "--group-threshold", "1",
                                    "--shares-file", cur.string(), "--cards", cards.string(),
                                    "--json"});
  ASSERT_EQ(grouped.code, 0) << grouped.err;
  const RunResult text =
      run_program({"/usr/bin/pdftotext", "-layout", (cards / "cal.pdf").string(), "-"});
  EXPECT_NE(text.out.find("member 1 of 2 of group 'west'"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("in 1 of the 2 groups"), std::string::npos) << text.out;
}

TEST_F(ShareGroups, BadGroupsAreRefusedBeforeTheTokenIsTouched) {
  const auto init = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"master", "init", "--shares-out", shares_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  };
  expect_failure(init({"--group", "board:2", "--group-threshold", "1"}), 2, "NAME:M:a,b,c");
  expect_failure(init({"--group", "board:x:ann,bob", "--group-threshold", "1"}), 2,
                 "member threshold");
  expect_failure(init({"--group", "board:2:ann,bob", "--group", "ops:2:cy,dee",
                       "--group-threshold", "3"}), 2, "--group-threshold 3");
  expect_failure(init({"--group", "board:1:ann,bob", "--group-threshold", "1"}), 2,
                 "threshold of 1");
  expect_failure(init({"--group", "board:2:ann,bob", "--group", "ops:2:bob,cy",
                       "--group-threshold", "2"}), 2, "'bob' is named twice");
  expect_failure(init({"--group", "board:2:ann,bob", "--group", "board:2:cy,dee",
                       "--group-threshold", "2"}), 2, "group 'board' is named twice");
  expect_failure(init({"--group", "ceo:1:ceo", "--group", "ops:2:cy,dee",
                       "--group-threshold", "1"}), 2, "--allow-single-custodian");
  expect_failure(init({"--group", "board:2:ann,bob", "--group-threshold", "1", "--threshold",
                       "2", "--custodians", "ann,bob"}), 2, "not both");
  expect_failure(init({}), 2, "--threshold M and --custodians");
  EXPECT_FALSE(std::filesystem::exists(ws_ / "keystore.sqlite"));
  EXPECT_TRUE(std::filesystem::is_empty(shares_));
}

}  // namespace
}  // namespace hsm::test
