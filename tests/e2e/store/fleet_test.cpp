// Two signing nodes on one PostgreSQL keystore (docs/design.md "The fleet"): node A's token
// cloned onto B's with `clone`, two workspaces, one database. Users provisioned on A sign on B,
// a one-time code is accepted once across the nodes (also when sent to both at once), a lockout
// on A holds on B, ceremonies on both nodes at once succeed, the exported transcript names both
// nodes and verifies (transcript verify --strict, scripts/verify-transcript); a node whose
// token holds another master is refused before anything changes, in the database or in its
// directory, and so is a directory whose transcript is not a prefix of the fleet's; an edited or
// truncated local replica is caught; a node killed between the database's commit and its file's
// write is repaired by its next ceremony (builds with HSMCTL_TEST_HOOKS). Skipped without HSMCTL_TEST_PG (scripts/lib/pg_pass.sh runs them).
#include <future>
#include <fstream>
#include <set>

#include "support/hsm_fixture.h"
#include "tests/keystore/fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;
using keystore::test::PgSchema;
using keystore::test::test_pg_url;

const std::string kFleetPassword = "correct horse battery staple";

class Fleet : public HsmTest {
 protected:
  void SetUp() override {
    if (test_pg_url().empty())
      GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh)";
    schema_.emplace();
    url_ = schema_->url();
    node_b_ = tmp_.path() / "node-b";
    fs::create_directories(node_b_);
    write_config(ws_, "node-a");
    write_config(node_b_, "node-b");
    data_ = write_file("data.txt", "the fleet's quarterly report\n", 0644).string();
    shares_ = tmp_.path() / "shares";
    const RunResult init = master_init(shares_);
    ASSERT_EQ(init.code, 0) << init.err;
    hsm_.init_token("B");
    const RunResult clone = hsmctl(with_shares({"clone", "--from-token", "test", "--to-token", "B"}));
    ASSERT_EQ(clone.code, 0) << clone.err;
  }
  void write_config(const fs::path& dir, const std::string& node, int max_failures = 0) {
    std::ofstream out(dir / "hsmctl.toml");
    out << "store = \"" << url_ << "\"\nnode = \"" << node << "\"\n";
    if (max_failures > 0) out << "[users]\nmax_auth_failures = " << max_failures << "\n";
  }
  std::vector<std::string> with_shares(std::vector<std::string> args) {
    for (const char* who : {"a", "b"})
      args.insert(args.end(), {"--shares-file", (shares_ / (std::string(who) + ".share")).string()});
    return args;
  }
  // hsmctl on node B: its own workspace and token.
  RunResult on_b(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"--dir", node_b_.string(), "--token", "B"});
    return hsmctl(args, env);
  }
  RunResult sign_args(bool b, const std::string& name, const std::string& out,
                      std::vector<std::string> extra = {}, const std::string& pw = kFleetPassword) {
    std::vector<std::string> args{"user", "sign", name, "--in", data_, "--out",
                                  (tmp_.path() / out).string(), "--password-source", "env:PW"};
    args.insert(args.end(), extra.begin(), extra.end());
    return b ? on_b(args, {{"PW", pw}}) : hsmctl(args, {{"PW", pw}});
  }
  std::string query(const std::string& sql) {
    const RunResult r = run_program({"/usr/bin/psql", "-X", "-A", "-t", "-d", url_, "-c", sql});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string totp(const std::string& seed, const std::string& when = "now") {
    return run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", when, seed}).out.substr(0, 6);
  }
  static std::set<std::string> entries_of(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
  }
  void join_b() {
    const RunResult join = on_b({"transcript", "join"});
    ASSERT_EQ(join.code, 0) << join.err;
  }

  std::optional<PgSchema> schema_;
  std::string url_, data_;
  fs::path node_b_, shares_;
};

TEST_F(Fleet, TwoNodesShareUsersCodesLockoutAndOneTranscript) {
  join_b();
  const std::string replica = read_file(node_b_ / "transcript.jsonl");
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"),
            std::to_string(std::count(replica.begin(), replica.end(), '\n')));
  // Provisioned on A, signs on B (openssl checks the signature).
  const auto staff = write_file("staff.jsonl", "{\"name\":\"alice\",\"password\":\"" +
                                                   kFleetPassword + "\"}\n");
  const RunResult prov = hsmctl({"user", "provision", "--from", staff.string(), "--kdf-profile", "min"});
  ASSERT_EQ(prov.code, 0) << prov.err;
  const RunResult s = sign_args(true, "alice", "b.sig");
  ASSERT_EQ(s.code, 0) << s.err;
  const std::string pem = (tmp_.path() / "alice.pem").string();
  ASSERT_EQ(on_b({"user", "export-public", "alice", "--out", pem}).code, 0);
  const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature",
                               (tmp_.path() / "b.sig").string(), data_});
  EXPECT_EQ(v.code, 0) << v.out << v.err;

  // A one-time code used on A is refused on B.
  const RunResult enrol = hsmctl({"user", "otp-enroll", "alice", "--password-source", "env:PW",
                                  "--show-secret"}, {{"PW", kFleetPassword}});
  ASSERT_EQ(enrol.code, 0) << enrol.err;
  const std::size_t at = enrol.out.find("secret=");
  ASSERT_NE(at, std::string::npos);
  const std::string seed = enrol.out.substr(at + 7, enrol.out.find('&', at) - at - 7);
  const std::string code = totp(seed);
  const RunResult used = sign_args(false, "alice", "a-otp.sig", {"--otp", code});
  ASSERT_EQ(used.code, 0) << used.err;
  expect_failure(sign_args(true, "alice", "b-otp.sig", {"--otp", code}), 3, "already used");

  // The same (next) code sent to A and B at the same instant: accepted once.
  const std::string next = totp(seed, "now + 30 seconds");
  auto on_a_async = std::async(std::launch::async, [&] {
    return sign_args(false, "alice", "race-a.sig", {"--otp", next});
  });
  auto on_b_async = std::async(std::launch::async, [&] {
    return sign_args(true, "alice", "race-b.sig", {"--otp", next});
  });
  const RunResult ra = on_a_async.get(), rb = on_b_async.get();
  EXPECT_EQ((ra.code == 0) + (rb.code == 0), 1) << ra.err << rb.err;
  EXPECT_EQ((ra.code == 3) + (rb.code == 3), 1) << ra.err << rb.err;
  EXPECT_NE((ra.code == 3 ? ra.err : rb.err).find("already used"), std::string::npos)
      << ra.err << rb.err;

  // A lockout on A holds on B (the failed codes above may have counted already).
  write_config(ws_, "node-a", 2);
  write_config(node_b_, "node-b", 2);
  const std::string later = totp(seed, "now + 60 seconds");
  for (int i = 0; i < 3 && query("SELECT locked FROM users WHERE name = 'alice'") != "1"; ++i)
    EXPECT_EQ(sign_args(false, "alice", "w1.sig", {"--otp", later}, "guess").code, 3);
  EXPECT_EQ(query("SELECT locked FROM users WHERE name = 'alice'"), "1");
  expect_failure(sign_args(true, "alice", "w2.sig", {"--otp", later}), 3, "is locked");

  // Ceremonies on both nodes at once both succeed (the fleet lock serialises them).
  auto note_a = std::async(std::launch::async, [&] {
    return hsmctl({"transcript", "note", "--witness", "w", "on A"});
  });
  auto note_b = std::async(std::launch::async, [&] {
    return on_b({"transcript", "note", "--witness", "w", "on B"});
  });
  const RunResult na = note_a.get(), nb = note_b.get();
  EXPECT_EQ(na.code, 0) << na.err;
  EXPECT_EQ(nb.code, 0) << nb.err;
  for (const bool b : {false, true}) {
    const RunResult d = b ? on_b({"doctor", "--json"}) : hsmctl({"doctor", "--json"});
    EXPECT_EQ(d.code, 0) << d.out << d.err;
    if (d.code == 0) {
      EXPECT_GT(d.json()["nodes"].value("node-a", 0), 0) << d.out;
      EXPECT_GT(d.json()["nodes"].value("node-b", 0), 0) << d.out;
    }
  }

  // The export (from B) is the fleet's transcript: both nodes' entries, and it verifies.
  const fs::path out = tmp_.path() / "fleet.jsonl";
  const RunResult ex = on_b({"transcript", "export", "--out", out.string(), "--tiles",
                             (tmp_.path() / "tiles").string(), "--json"});
  ASSERT_EQ(ex.code, 0) << ex.err;
  EXPECT_EQ(ex.json()["from"], "database");
  const std::string exported = read_file(out);
  EXPECT_EQ(exported, read_file(ws_ / "transcript.jsonl"));  // A's replica, caught up by doctor
  EXPECT_NE(exported.find("\"node\":\"node-a\""), std::string::npos);
  EXPECT_NE(exported.find("\"node\":\"node-b\""), std::string::npos);
  EXPECT_NE(exported.find("\"node\":\"node-b\",\"text\":\"on B\""), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp_.path() / "tiles" / "checkpoint"));
  const RunResult strict = hsmctl({"transcript", "verify", "--strict", "--json", out.string()});
  ASSERT_EQ(strict.code, 0) << strict.out << strict.err;
  EXPECT_GT(strict.json()["nodes"].value("node-a", 0), 0) << strict.out;
  EXPECT_GT(strict.json()["nodes"].value("node-b", 0), 0) << strict.out;
  const RunResult py = run_program({std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
                                    "--strict", out.string()});
  EXPECT_EQ(py.code, 0) << py.out << py.err;
  EXPECT_NE(py.err.find("entries by node: node-a ("), std::string::npos) << py.err;
}

TEST_F(Fleet, ANodeWhoseTokenHoldsAnotherMasterIsRefusedBeforeAnythingChanges) {
  // Token C gets a master of its own in a workspace of its own (SQLite).
  hsm_.init_token("C");
  const fs::path other = tmp_.path() / "other";
  make_private_dir(tmp_.path() / "other-shares");
  ASSERT_EQ(hsmctl({"--dir", other.string(), "--token", "C", "master", "init",
                    "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
                    (tmp_.path() / "other-shares").string()}).code, 0);
  const fs::path node_c = tmp_.path() / "node-c";
  fs::create_directories(node_c);
  write_config(node_c, "node-c");
  const std::string before = query("SELECT count(*) FROM transcript_entries");
  const RunResult r = hsmctl({"--dir", node_c.string(), "--token", "C", "transcript", "join"});
  expect_failure(r, 4, "holds master KCV");
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"), before);
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries WHERE node = 'node-c'"), "0");
  // Nothing half-written: no keystore.url, no replica, no pending record, no lock file.
  EXPECT_EQ(entries_of(node_c), std::set<std::string>{"hsmctl.toml"});
  // The same directory then joins with a clone of the fleet's master.
  const RunResult with_clone = hsmctl({"--dir", node_c.string(), "--token", "B", "transcript",
                                       "join"});
  EXPECT_EQ(with_clone.code, 0) << with_clone.err;
  // A directory the refused join made (the store given with --store) is gone again.
  const fs::path node_e = tmp_.path() / "node-e";
  expect_failure(hsmctl({"--dir", node_e.string(), "--store", url_, "--token", "C", "transcript",
                         "join"}), 4, "holds master KCV");
  EXPECT_FALSE(fs::exists(node_e));
}

TEST_F(Fleet, ADirectoryWithATranscriptOfItsOwnCannotJoin) {
  // A transcript of another workspace (SQLite), copied into the directory that would join.
  const fs::path other = tmp_.path() / "other";
  ASSERT_EQ(hsmctl({"--dir", other.string(), "token", "init", "--label", "D", "--so-pin-source",
                    "env:SO"}, {{"SO", kSoPin}}).code, 0);
  const fs::path node_d = tmp_.path() / "node-d";
  fs::create_directories(node_d);
  write_config(node_d, "node-d");
  fs::copy_file(other / "transcript.jsonl", node_d / "transcript.jsonl");
  const std::string rows = query("SELECT count(*) FROM transcript_entries");
  expect_failure(hsmctl({"--dir", node_d.string(), "transcript", "join"}), 4,
                 "is not a prefix of the fleet's transcript on postgresql://");
  const RunResult again = hsmctl({"--dir", node_d.string(), "transcript", "join"});
  EXPECT_NE(again.err.find("its entry 0 differs from the database's"), std::string::npos)
      << again.err;
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"), rows);
}

TEST_F(Fleet, ACrashAfterTheDatabaseCommitIsRepairedByTheNextCatchUp) {
#ifndef HSMCTL_TEST_HOOKS
  GTEST_SKIP() << "built without HSMCTL_TEST_HOOKS: no crash points";
#endif
  join_b();
  // Killed after the database committed B's witness.note (the 2nd append) but before B's file
  // had it.
  const RunResult killed = on_b({"transcript", "note", "--witness", "w", "crash"},
                                {{"HSMCTL_CRASH_AT", "transcript.before-write:2"}});
  EXPECT_NE(killed.code, 0);
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries WHERE line LIKE '%\"text\":\"crash\"%'"),
            "1");
  EXPECT_EQ(read_file(node_b_ / "transcript.jsonl").find("\"text\":\"crash\""), std::string::npos);
  // The next ceremony on B copies it into the file and closes the killed ceremony.
  const RunResult next = on_b({"transcript", "note", "--witness", "w", "after"});
  ASSERT_EQ(next.code, 0) << next.err;
  const std::string replica = read_file(node_b_ / "transcript.jsonl");
  EXPECT_NE(replica.find("\"text\":\"crash\""), std::string::npos);
  EXPECT_NE(replica.find("\"event\":\"ceremony.interrupted\""), std::string::npos);
  const RunResult db = on_b({"doctor"}), da = hsmctl({"doctor"});
  EXPECT_EQ(db.code, 0) << db.out << db.err;
  EXPECT_EQ(da.code, 0) << da.out << da.err;
}

TEST_F(Fleet, AnEditedOrTruncatedReplicaIsCaught) {
  join_b();
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "w", "on A"}).code, 0);
  ASSERT_EQ(on_b({"transcript", "note", "--witness", "w", "on B"}).code, 0);
  const fs::path file = node_b_ / "transcript.jsonl";
  const std::string good = read_file(file);
  const std::string rows = query("SELECT count(*) FROM transcript_entries");
  // Edited within: one byte of B's note changed in B's replica. doctor names the seq.
  std::string edited = good;
  const std::size_t at = edited.find("\"text\":\"on B\"");
  ASSERT_NE(at, std::string::npos);
  edited[at + 11] = 'X';
  std::ofstream(file, std::ios::binary | std::ios::trunc) << edited;
  const std::size_t note_seq = std::count(good.begin(), good.begin() + static_cast<long>(at), '\n');
  const RunResult d = on_b({"doctor", "--offline"});
  EXPECT_EQ(d.code, 4) << d.out;
  EXPECT_NE(d.out.find("differs from the fleet's transcript at seq " + std::to_string(note_seq)),
            std::string::npos) << d.out;
  // Edited at the end: the next append on B refuses, naming the seq, and adds nothing.
  edited = good;
  const std::size_t ok = edited.rfind("\"outcome\":\"ok\"");
  ASSERT_NE(ok, std::string::npos);
  edited.replace(ok, 14, "\"outcome\":\"OK\"");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << edited;
  const std::size_t last_seq = std::count(good.begin(), good.end(), '\n') - 1;
  expect_failure(on_b({"transcript", "note", "--witness", "w", "after edit"}), 4,
                 "entry " + std::to_string(last_seq));
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"), rows);
  // Truncated: the last line dropped on B.
  std::string cut = good.substr(0, good.rfind('\n', good.size() - 2) + 1);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << cut;
  const RunResult again = on_b({"transcript", "note", "--witness", "w", "after cut"});
  expect_failure(again, 4, "transcript");
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"), rows);
}

}  // namespace
}  // namespace hsm::test
