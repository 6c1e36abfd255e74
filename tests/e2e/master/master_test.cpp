// master init | status | verify-share | restore | reshare against real SoftHSM tokens, with the
// failure contract of every bad share and bad parameter in tables.
#include <sys/stat.h>

#include <fstream>

#include "support/forge.h"
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

const std::vector<std::string> kCustodians{"alice", "bob", "carol", "dave", "erin"};

class Master : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    make_private_dir(shares_);
    const RunResult r = hsmctl({"master", "init", "--threshold", "3", "--custodians",
                                "alice,bob,carol,dave,erin", "--shares-out", shares_.string(),
                                "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    kcv_ = r.json()["kcv"];
    hsm_.init_token("B");
  }
  std::string share(const std::string& who) { return read_file(shares_ / (who + ".share")); }
  // A 0600 file with the given custodians' shares, one a line.
  std::string shares_file(const std::vector<std::string>& who, const std::string& name = "in") {
    std::string content;
    for (const auto& w : who) content += share(w);
    return write_file(name, content).string();
  }
  RunResult restore_on_b(const std::string& file) {
    return hsmctl({"--token", "B", "master", "restore", "--shares-file", file, "--json"});
  }
  int objects_on(const std::string& token) {
    const auto doc = hsmctl({"--token", token, "token", "objects", "--json"}).json();
    return static_cast<int>(doc["objects"].size());
  }
  static std::string word_at(const std::string& mnemonic, int index) {
    size_t start = 0;
    for (int i = 0; i < index; ++i) start = mnemonic.find(' ', start) + 1;
    return mnemonic.substr(start, mnemonic.find_first_of(" \n", start) - start);
  }
  static std::string replace_word(std::string mnemonic, int index, const std::string& with) {
    size_t start = 0;
    for (int i = 0; i < index; ++i) start = mnemonic.find(' ', start) + 1;
    const size_t end = mnemonic.find_first_of(" \n", start);
    return mnemonic.replace(start, end - start, with);
  }

  std::filesystem::path shares_;
  std::string kcv_;
};

TEST_F(Master, InitWritesPrivateShareFilesAndStatusReportsTheKcv) {
  for (const auto& c : kCustodians) {
    struct stat st {};
    ASSERT_EQ(::stat((shares_ / (c + ".share")).c_str(), &st), 0) << c;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << c;
  }
  const auto status = hsmctl({"master", "status", "--json"}).json();
  EXPECT_EQ(status["kcv"], kcv_);
  EXPECT_EQ(status["recorded_kcv"], kcv_);
  EXPECT_EQ(status["threshold"], 3);
  EXPECT_EQ(status["custodians"].size(), 5u);
  EXPECT_EQ(kcv_.size(), 6u);
}

TEST_F(Master, MasterKeysAreSensitiveNotExtractableNotModifiable) {
  const auto doc = hsmctl({"token", "objects", "--json"}).json();
  int found = 0;
  for (const auto& o : doc["objects"]) {
    if (o["label"] != "hsmctl-mk-wrap" && o["label"] != "hsmctl-mk-derive") continue;
    ++found;
    EXPECT_TRUE(o["sensitive"].get<bool>());
    EXPECT_FALSE(o["extractable"].get<bool>());
    EXPECT_FALSE(o["modifiable"].get<bool>());
    EXPECT_TRUE(o["private"].get<bool>());
  }
  EXPECT_EQ(found, 2);
}

TEST_F(Master, TranscriptHasAnEndorsedChangeToTheEscrowedKey) {
  const RunResult r = hsmctl({"transcript", "verify", "--strict", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.json()["key_changes"].size(), 1u);
  EXPECT_TRUE(r.json()["key_changes"][0]["endorsed"].get<bool>());
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("\"kcv\":\"" + kcv_ + "\""),
            std::string::npos);
}

TEST_F(Master, NoShareEverReachesTranscriptOrKeystore) {
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  const std::string keystore = read_file(ws_ / "keystore.sqlite") + read_file(ws_ / "keystore.sqlite-wal");
  for (const auto& c : kCustodians) {
    std::string m = share(c);
    m.pop_back();
    const std::string first_words = m.substr(0, m.find(' ', m.find(' ', m.find(' ') + 1) + 1));
    EXPECT_EQ(transcript.find(m), std::string::npos) << c;
    EXPECT_EQ(keystore.find(m), std::string::npos) << c;
    EXPECT_EQ(transcript.find(first_words), std::string::npos) << c;
  }
}

TEST_F(Master, RestoreOnAFreshTokenWithAQuorumContinuesTheChain) {
  const RunResult r = restore_on_b(shares_file({"erin", "alice", "carol"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["kcv"], kcv_);
  EXPECT_TRUE(r.json()["kcv_checked"].get<bool>());
  EXPECT_TRUE(r.json()["transcript_key_restored"].get<bool>());
  EXPECT_EQ(hsmctl({"--token", "B", "master", "status", "--json"}).json()["kcv"], kcv_);
  // The same escrowed key signs on B: still one (endorsed) key change in the whole chain.
  const RunResult v = hsmctl({"transcript", "verify", "--strict", "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["key_changes"].size(), 1u);
}

TEST_F(Master, VerifyShareNamesTheCustodian) {
  const RunResult r = hsmctl({"master", "verify-share", "--share-file",
                              (shares_ / "dave.share").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["custodian"], "dave");
  EXPECT_EQ(r.json()["member_index"], 4);
  // A custodian's check uses no token and records nothing.
  EXPECT_EQ(read_file(ws_ / "transcript.jsonl").find("share.verified"), std::string::npos);
}

TEST_F(Master, BadSharesAreNamedAndRefusedAndLeaveNothingOnTheToken) {
  // A second, foreign share set from another workspace.
  const auto other_ws = tmp_.path() / "other";
  hsm_.init_token("C");
  const auto other_shares = tmp_.path() / "other-shares";
  make_private_dir(other_shares);
  ASSERT_EQ(hsmctl({"--token", "C", "--dir", other_ws.string(), "master", "init", "--threshold",
                    "2", "--custodians", "x,y", "--shares-out", other_shares.string()})
                .code,
            0);
  const std::string alice = share("alice");
  struct Row {
    std::string name, content;
    int code;
    std::string needle;
  };
  const std::vector<Row> table = {
      {"M-1 shares", share("alice") + share("bob"), 5, "2 of 3 shares given; 1 more needed"},
      {"word not in the list", replace_word(alice, 4, "notaword") + share("bob") + share("carol"),
       4, "word 5 'notaword' of share 1 in"},
      {"mistyped word (valid word, checksum fails)",
       // Another valid word than the one there (words of the prefix repeat: "academic" is
       // often word 3, so looking for it anywhere once picked the very word it replaced).
       replace_word(alice, 6, word_at(alice, 6) == "academic" ? "acid" : "academic") +
           share("bob") + share("carol"),
       4, "word 7 is most likely wrong"},
      {"duplicate share", share("bob") + share("bob") + share("carol"), 4, "gave a share twice"},
      {"share of another set", read_file(other_shares / "x.share") + share("bob") + share("carol"),
       4, "another share set"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.name);
    expect_failure(restore_on_b(write_file("bad", row.content).string()), row.code, row.needle);
    EXPECT_EQ(objects_on("B"), 0);
  }
  // Every refusal is in the transcript.
  ASSERT_EQ(restore_on_b(shares_file({"alice", "bob", "carol"})).code, 0);
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(transcript.find("gave a share twice"), std::string::npos);
  EXPECT_NE(transcript.find("1 more needed"), std::string::npos);
}

TEST_F(Master, RestoreRefusesATokenThatAlreadyHoldsAMaster) {
  expect_failure(hsmctl({"master", "restore", "--shares-file", shares_file({"alice", "bob", "carol"})}),
                 7, "already holds a master key");
}

TEST_F(Master, InitRefusesASecondMaster) {
  const auto again = tmp_.path() / "again";
  make_private_dir(again);
  expect_failure(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b",
                         "--shares-out", again.string()}),
                 7, "already holds a master key");
  EXPECT_TRUE(std::filesystem::is_empty(again));
}

TEST_F(Master, BadInitParametersAreUsageErrorsBeforeTheTokenIsTouched) {
  const auto out = tmp_.path() / "out";
  make_private_dir(out);
  std::ofstream(out / "bob.share") << "occupied\n";
  const auto open_dir = tmp_.path() / "open";
  std::filesystem::create_directories(open_dir);
  std::filesystem::permissions(open_dir, std::filesystem::perms::owner_all |
                               std::filesystem::perms::group_read |
                               std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::replace);
  std::string seventeen;
  for (int i = 0; i < 17; ++i) seventeen += (i ? ",c" : "c") + std::to_string(i);
  struct Row {
    std::vector<std::string> args;
    int code;
    std::string needle;
  };
  const std::vector<Row> table = {
      {{"--threshold", "4", "--custodians", "a,b,c"}, 2, "more than the 3 custodians"},
      {{"--threshold", "0", "--custodians", "a,b,c"}, 2, "at least 1"},
      {{"--threshold", "1", "--custodians", "a"}, 2, "--allow-single-custodian"},
      {{"--threshold", "2", "--custodians", seventeen}, 2, "at most 16"},
      {{"--threshold", "2", "--custodians", "a,b,a"}, 2, "named twice"},
      {{"--threshold", "2", "--custodians", "a,../b"}, 2, "must be 1-32"},
      {{"--threshold", "2", "--custodians", "alice,bob", "--shares-out", out.string()}, 7,
       "already exists"},
      {{"--threshold", "2", "--custodians", "a,b", "--shares-out", (tmp_.path() / "nope").string()},
       7, "does not exist"},
      {{"--threshold", "2", "--custodians", "a,b", "--shares-out", open_dir.string()}, 1,
       "open to group or others (mode 0750); run 'chmod 700"},
      {{"--threshold", "2", "--custodians", "a,b"}, 2, "no terminal"},
  };
  hsm_.init_token("D");
  for (const auto& row : table) {
    std::vector<std::string> args{"--token", "D", "--dir", (tmp_.path() / "d").string(), "master", "init"};
    args.insert(args.end(), row.args.begin(), row.args.end());
    SCOPED_TRACE(row.needle);
    expect_failure(hsmctl(args), row.code, row.needle);
  }
  EXPECT_EQ(objects_on("D"), 0);
  EXPECT_TRUE(std::filesystem::is_empty(open_dir));
}

TEST_F(Master, ReshareIssuesANewSetAndRetiresTheOld) {
  const auto out = tmp_.path() / "new";
  make_private_dir(out);
  const RunResult r = hsmctl({"master", "reshare", "--threshold", "2", "--custodians",
                              "alice,frank,gina", "--shares-file", shares_file({"bob", "carol", "dave"}),
                              "--shares-out", out.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["kcv"], kcv_);
  expect_failure(hsmctl({"master", "verify-share", "--share-file", (shares_ / "bob.share").string()}),
                 4, "another share set");
  EXPECT_EQ(hsmctl({"master", "verify-share", "--share-file", (out / "gina.share").string()}).code, 0);
  const std::string two = write_file("two", read_file(out / "frank.share") + read_file(out / "gina.share")).string();
  const RunResult restored = restore_on_b(two);
  ASSERT_EQ(restored.code, 0) << restored.err;
  EXPECT_EQ(restored.json()["kcv"], kcv_);
}

}  // namespace
}  // namespace hsm::test
