// The keystore on PostgreSQL (--store, HSMCTL_STORE, store = in hsmctl.toml) end to end: master
// init, user create and sign with a one-time code, a replayed code refused, lockout, doctor and
// transcript verify, all against the throwaway cluster of scripts/lib/pg_cluster.sh; and the
// store's bad input (a password in the URL, a URL libpq cannot read, a server that is down, a
// workspace given another store, a second workspace on a database whose transcript is not in it
// yet; tests/e2e/store/fleet_test.cpp has the fleet's nodes). Skipped without
// HSMCTL_TEST_PG (scripts/test runs them in the release pass).
#include <fstream>

#include "support/hsm_fixture.h"
#include "tests/keystore/fixture.h"

namespace hsm::test {
namespace {

using keystore::test::PgSchema;
using keystore::test::test_pg_url;

const std::string kPassword = "correct horse battery staple";

class Store : public HsmTest {
 protected:
  void SetUp() override {
    if (test_pg_url().empty())
      GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh)";
    schema_.emplace();
    url_ = schema_->url();
    write_config();
  }
  void write_config(int max_failures = 0) {
    std::ofstream out(ws_ / "hsmctl.toml");
    out << "store = \"" << url_ << "\"\n";
    if (max_failures > 0) out << "[users]\nmax_auth_failures = " << max_failures << "\n";
  }
  RunResult user(std::vector<std::string> args, const std::string& password = kPassword) {
    args.insert(args.begin(), "user");
    return hsmctl(args, {{"PW", password}});
  }
  RunResult sign(const std::string& name, const std::string& out,
                 std::vector<std::string> extra = {}, const std::string& password = kPassword) {
    std::vector<std::string> args{"sign", name, "--in", data_, "--out",
                                  (tmp_.path() / out).string(), "--password-source", "env:PW"};
    args.insert(args.end(), extra.begin(), extra.end());
    return user(args, password);
  }
  // One value from the keystore's tables, read with psql.
  std::string query(const std::string& sql) {
    const RunResult r = run_program({"/usr/bin/psql", "-X", "-A", "-t", "-d", url_, "-c", sql});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::optional<PgSchema> schema_;
  std::string url_;
  std::string data_;
};

TEST_F(Store, CeremoniesRunOnPostgresql) {
  data_ = write_file("data.txt", "the quarterly report\n", 0644).string();
  const RunResult init = master_init(tmp_.path() / "shares");
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_FALSE(std::filesystem::exists(ws_ / "keystore.sqlite"));
  EXPECT_EQ(read_file(ws_ / "keystore.url").substr(0, url_.size()), url_);
  EXPECT_EQ(query("SELECT count(*) FROM master"), "1");

  ASSERT_EQ(user({"create", "alice", "--kdf-profile", "min", "--password-source", "env:PW"}).code, 0);
  EXPECT_EQ(query("SELECT name FROM users"), "alice");
  ASSERT_EQ(sign("alice", "plain.sig").code, 0);
  const RunResult enrol =
      user({"otp-enroll", "alice", "--password-source", "env:PW", "--show-secret"});
  ASSERT_EQ(enrol.code, 0) << enrol.err;
  const std::size_t at = enrol.out.find("secret=");
  ASSERT_NE(at, std::string::npos);
  const std::string seed = enrol.out.substr(at + 7, enrol.out.find('&', at) - at - 7);
  const std::string code =
      run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now", seed}).out.substr(0, 6);
  const RunResult ok = sign("alice", "otp.sig", {"--otp", code});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(query("SELECT otp_last_step FROM users WHERE name = 'alice'"), "0");
  expect_failure(sign("alice", "again.sig", {"--otp", code}), 3, "already used");

  // Lockout: counted in the database.
  write_config(2);
  const std::string next =
      run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now + 30 seconds", seed}).out.substr(0, 6);
  expect_failure(sign("alice", "w1.sig", {"--otp", next}, "guess"), 3, "wrong password");
  EXPECT_EQ(query("SELECT locked FROM users WHERE name = 'alice'"), "1");
  expect_failure(sign("alice", "w2.sig", {"--otp", next}), 3, "is locked");

  const RunResult doctor = hsmctl({"doctor", "--json"});
  EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
  const RunResult verify = hsmctl({"transcript", "verify", "--strict"});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  // The same database, edited behind hsmctl's back: the transcript-bound checks refuse it.
  query("UPDATE users SET locked = 0, failures = 0 WHERE name = 'alice'");
  expect_failure(sign("alice", "edited.sig", {"--otp", next}), 4,
                 "not what the transcript recorded last");
}

TEST_F(Store, BadStoresFailWithOneLine) {
  const std::string base = test_pg_url();
  for (const char* d : {"shares", "shares2", "shares4"}) make_private_dir(tmp_.path() / d);
  // A password in the URL, from the option, the environment and hsmctl.toml: usage (exit 2).
  expect_failure(hsmctl({"--store", "postgresql://u:secret@localhost/db", "user", "list"}), 2,
                 "carries a password");
  expect_failure(hsmctl({"user", "list"}, {{"HSMCTL_STORE", "postgresql://localhost/db?password=x"}}),
                 2, "carries a password");
  expect_failure(hsmctl({"--store", "postgresql://[::1", "user", "list"}), 2,
                 "not a PostgreSQL connection URL");
  expect_failure(hsmctl({"--store", "mysql://localhost/db", "user", "list"}), 2,
                 "not a keystore store");
  // A server that is not there: exit 6, naming the server.
  std::filesystem::remove(ws_ / "hsmctl.toml");
  const RunResult down = hsmctl({"--store", "postgresql:///hsmctl?host=/nonexistent-hsmctl-dir",
                                 "master", "init", "--threshold", "2", "--custodians", "a,b,c",
                                 "--shares-out", (tmp_.path() / "shares").string()});
  expect_failure(down, 6, "keystore server postgresql:///nonexistent-hsmctl-dir:5432/hsmctl");
  EXPECT_EQ(down.err.find("Is the server running"), std::string::npos) << down.err;
  EXPECT_FALSE(std::filesystem::exists(ws_ / "keystore.url"));
  // A database that does not exist: exit 6, one line.
  const std::string no_db = "postgresql:///no_such_db?" + base.substr(base.find('?') + 1);
  expect_failure(hsmctl({"--store", no_db, "master", "init", "--threshold", "2", "--custodians",
                         "a,b,c", "--shares-out", (tmp_.path() / "shares2").string()}),
                 6, "does not exist");

  // A workspace keeps its store; a second workspace on the same database is refused.
  write_config();
  ASSERT_EQ(master_init(tmp_.path() / "shares3").code, 0);
  PgSchema other;
  expect_failure(hsmctl({"--store", other.url(), "user", "list"}), 2, "keeps its keystore at");
  // A database whose transcript is not in it (a workspace that kept it in its file alone, as
  // before the fleet) belongs to that workspace: a second one is refused...
  query("DROP TABLE transcript_entries");
  const auto ws2 = tmp_.path() / "ws2";
  expect_failure(hsmctl({"--dir", ws2.string(), "--store", url_, "master", "init", "--threshold",
                         "2", "--custodians", "a,b,c", "--shares-out",
                         (tmp_.path() / "shares4").string()}),
                 1, "belongs to another workspace");
  // ...and the workspace's next ceremony puts its whole transcript there (then others may join).
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "w", "seeded"}).code, 0);
  const std::string file = read_file(ws_ / "transcript.jsonl");
  EXPECT_EQ(query("SELECT count(*) FROM transcript_entries"),
            std::to_string(std::count(file.begin(), file.end(), '\n')));
  EXPECT_EQ(query("SELECT string_agg(line || chr(10), '' ORDER BY seq) FROM transcript_entries") +
                "\n",
            file);
}

}  // namespace
}  // namespace hsm::test
