// Key versions of encryption groups against real SoftHSM tokens: dek rewrap moves a wrapped
// DEK to the current version inside the token (dek open gives the same DEK before and after);
// group retire refuses the versions below a minimum for good (exit 7) and the keystore state
// covers it; a member added after a rotation gets the old versions its sponsor holds and reads
// the old data.
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class DataVersions : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    for (const std::string u : {"alice", "bob", "carol", "dave"}) {
      const RunResult r = run({"user", "create", u, "--kdf-profile", "min", "--password-source",
                               "env:PW_" + u}, {u});
      ASSERT_EQ(r.code, 0) << r.err;
    }
    ASSERT_EQ(run({"group", "create", "payroll", "--purpose", "encrypt", "--members",
                   "alice,bob,carol"}).code, 0);
    plain_ = write_file("plain.txt", std::string(1500000, 'x') + "the end\n", 0644).string();
  }
  RunResult run(std::vector<std::string> args, const std::vector<std::string>& who = {}) {
    std::map<std::string, std::string> env;
    for (const auto& w : who) env["PW_" + w] = "password of " + w;
    return hsmctl(args, env);
  }
  // A member command: --as USER with USER's password (or `pw`'s).
  RunResult as(const std::string& user, std::vector<std::string> args, const std::string& pw = "") {
    const std::string p = pw.empty() ? user : pw;
    args.insert(args.end(), {"--as", user, "--password-source", "env:PW_" + p, "--json"});
    return run(args, {p});
  }
  RunResult dek_new(const std::string& out) {
    return run({"dek", "new", "--group", "payroll", "--out", path(out), "--context", "row=17",
                "--json"});
  }
  RunResult rewrap(const std::string& user, const std::string& in, const std::string& out,
                   const std::string& pw = "") {
    return as(user, {"dek", "rewrap", "--in", path(in), "--out", path(out)}, pw);
  }
  RunResult open(const std::string& user, const std::string& in) {
    return as(user, {"dek", "open", "--in", path(in)});
  }
  RunResult decrypt(const std::string& user, const std::string& in, const std::string& out) {
    return as(user, {"data", "decrypt", "--in", path(in), "--out", path(out)});
  }
  RunResult encrypt(const std::string& out) {
    return run({"data", "encrypt", "--group", "payroll", "--in", plain_, "--out", path(out),
                "--json"});
  }
  std::string path(const std::string& name) { return (tmp_.path() / name).string(); }
  std::string transcript() { return read_file(ws_ / "transcript.jsonl"); }
  nlohmann::json dek_file(const std::string& name) {
    return nlohmann::json::parse(read_file(path(name)));
  }
  RunResult sql(const std::string& statement) {
    return run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(), statement});
  }

  std::string plain_;
};

TEST_F(DataVersions, RewrapMovesTheDekToTheCurrentVersionAndItOpensToTheSameBytes) {
  const RunResult n = dek_new("v1.dek");
  ASSERT_EQ(n.code, 0) << n.err;
  const std::string dek = n.json()["dek"];
  ASSERT_EQ(run({"group", "remove", "payroll", "bob"}).code, 0);  // key version 2

  const RunResult w = rewrap("alice", "v1.dek", "v2.dek");
  ASSERT_EQ(w.code, 0) << w.err;
  EXPECT_EQ(w.json()["from_version"], 1);
  EXPECT_EQ(w.json()["key_version"], 2);
  const nlohmann::json before = dek_file("v1.dek"), after = dek_file("v2.dek");
  EXPECT_EQ(after["format"], "hsmctl-dek-v1");
  EXPECT_EQ(after["group"], "payroll");
  EXPECT_EQ(after["key_version"], 2);
  EXPECT_EQ(after["dek_id"], before["dek_id"]);
  EXPECT_EQ(after["context"], before["context"]);
  EXPECT_NE(after["ephemeral_public_key"], before["ephemeral_public_key"]);
  EXPECT_NE(after["wrapped_dek"], before["wrapped_dek"]);
  EXPECT_EQ(read_file(path("v2.dek")).find(dek), std::string::npos);
  // The rewrapped DEK opens to the same bytes (another member, the current version).
  const RunResult o = open("carol", "v2.dek");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.json()["dek"], dek);
  EXPECT_EQ(o.json()["key_version"], 2);
  // Recorded without the DEK; the transcript and keystore check out.
  const std::string t = transcript();
  EXPECT_NE(t.find("\"event\":\"dek.rewrapped\""), std::string::npos);
  EXPECT_NE(t.find("\"from_version\":1"), std::string::npos);
  EXPECT_EQ(t.find(dek), std::string::npos);
  EXPECT_EQ(run({"transcript", "verify"}).code, 0);

  // Refusals: one line, documented codes, nothing written.
  ASSERT_EQ(encrypt("v1.enc").code, 0);
  expect_failure(rewrap("alice", "v1.enc", "x1.dek"), 2, "data decrypt' | 'hsmctl data encrypt");
  expect_failure(rewrap("alice", "v2.dek", "x2.dek"), 2, "already wrapped to key version 2");
  expect_failure(rewrap("bob", "v1.dek", "x3.dek"), 3, "is not a member of group 'payroll'");
  expect_failure(rewrap("alice", "v1.dek", "x4.dek", "carol"), 3, "wrong password");
  expect_failure(rewrap("alice", "v1.dek", "v2.dek"), 7, "already exists");
  std::string changed = read_file(path("v2.dek"));
  const auto at = changed.find("\"wrapped_dek\":\"") + 18;
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  write_file("t.dek", changed, 0644);
  expect_failure(open("alice", "t.dek"), 4, "the wrapped DEK does not unwrap");
  for (const std::string f : {"x1.dek", "x2.dek", "x3.dek", "x4.dek"})
    EXPECT_FALSE(std::filesystem::exists(path(f))) << f;
}

TEST_F(DataVersions, RetiredVersionsAreRefusedForGoodAndTheStateCoversTheMinimum) {
  ASSERT_EQ(encrypt("v1.enc").code, 0);
  ASSERT_EQ(dek_new("v1.dek").code, 0);
  ASSERT_EQ(run({"group", "remove", "payroll", "bob"}).code, 0);  // version 2
  ASSERT_EQ(rewrap("alice", "v1.dek", "v2.dek").code, 0);
  ASSERT_EQ(encrypt("v2.enc").code, 0);
  expect_failure(as("alice", {"group", "retire", "payroll", "--below", "3"}), 2,
                 "would retire the current key version 2");
  expect_failure(as("dave", {"group", "retire", "payroll", "--below", "2"}), 3,
                 "is not a member of group 'payroll'");
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  expect_failure(as("alice", {"group", "retire", "ops", "--below", "2"}), 2,
                 "group 'ops' is a signing group");

  const RunResult r = as("alice", {"group", "retire", "payroll", "--below", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["min_version"], 2);
  EXPECT_EQ(r.json()["deleted_versions"], nlohmann::json::array({1}));
  EXPECT_NE(transcript().find("\"event\":\"group.retired\""), std::string::npos);
  // The old key and its layers are gone from the keystore, not just hidden.
  const RunResult rows = sql("SELECT count(*) FROM group_old_keys; "
                             "SELECT count(*) FROM group_old_layers;");
  EXPECT_EQ(rows.out, "0\n0\n");
  const std::string retired = "key version 1 of group 'payroll' is retired";
  expect_failure(decrypt("alice", "v1.enc", "o1"), 7, retired);
  expect_failure(open("carol", "v1.dek"), 7, retired);
  expect_failure(rewrap("alice", "v1.dek", "o2"), 7, retired);
  expect_failure(as("alice", {"group", "retire", "payroll", "--below", "2"}), 2,
                 "already refuses key versions below 2");
  EXPECT_FALSE(std::filesystem::exists(path("o1")));
  EXPECT_FALSE(std::filesystem::exists(path("o2")));
  // What was moved or encrypted to version 2 is unaffected.
  ASSERT_EQ(decrypt("carol", "v2.enc", "ok.txt").code, 0);
  EXPECT_TRUE(read_file(path("ok.txt")) == read_file(plain_));
  ASSERT_EQ(open("alice", "v2.dek").code, 0);
  EXPECT_EQ(run({"transcript", "verify"}).code, 0);
  const RunResult doc = run({"doctor"});
  EXPECT_EQ(doc.code, 0) << doc.out << doc.err;
  // Someone who can write the keystore file cannot un-retire: the minimum is in the group's
  // state row (and the deleted layers could not come back anyway).
  ASSERT_EQ(sql("DELETE FROM group_min_versions").code, 0);
  expect_failure(decrypt("alice", "v2.enc", "o3"), 4,
                 "group 'payroll' in the keystore is not what the transcript recorded last");
}

TEST_F(DataVersions, AMemberAddedLaterGetsTheOldVersionsAndReadsTheOldData) {
  ASSERT_EQ(encrypt("v1.enc").code, 0);
  ASSERT_EQ(run({"group", "remove", "payroll", "bob"}).code, 0);  // version 2
  ASSERT_EQ(encrypt("v2.enc").code, 0);
  const RunResult add = as("carol", {"group", "add", "payroll", "dave"});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_EQ(add.json()["old_versions"], nlohmann::json::array({1}));
  EXPECT_NE(transcript().find("\"old_versions\":[1]"), std::string::npos);
  for (const std::string v : {"v1", "v2"}) {
    SCOPED_TRACE(v);
    const RunResult d = decrypt("dave", v + ".enc", "dave-" + v + ".txt");
    ASSERT_EQ(d.code, 0) << d.err;
    EXPECT_TRUE(read_file(path("dave-" + v + ".txt")) == read_file(plain_));
  }
  // dave can sponsor in turn; bob, re-added by dave, gets version 1 back from dave's layer.
  const RunResult again = as("dave", {"group", "add", "payroll", "bob"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["old_versions"], nlohmann::json::array({1}));
  EXPECT_EQ(run({"transcript", "verify"}).code, 0);
  const RunResult doc = run({"doctor"});
  EXPECT_EQ(doc.code, 0) << doc.out << doc.err;
  // A signing group's add lists no old versions.
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  const RunResult sign_add = as("alice", {"group", "add", "ops", "dave"});
  ASSERT_EQ(sign_add.code, 0) << sign_add.err;
  EXPECT_EQ(sign_add.json()["old_versions"], nlohmann::json::array());
}

}  // namespace
}  // namespace hsm::test
