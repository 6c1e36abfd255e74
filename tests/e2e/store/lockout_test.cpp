// The lockout under concurrent guesses, on both backends: many wrong `user sign` processes and
// one right one, all started at once against a user one failure from the limit. Whatever the
// order, the right one never succeeds after the lock, every failure is counted (the stored
// count is the transcript's), a right guess refused for the lock gets the answer a wrong one
// gets, and the transcript and doctor stay clean. The race within one process's
// authentication (a guess in flight when the account locks) is proven at the keystore level
// (tests/keystore/users_test.cpp, AGuessInFlightWhenTheUserLocksNeverSucceeds): within one
// workspace the directory lock runs these commands one after another.
#include <fstream>
#include <memory>
#include <sstream>

#include "support/hsm_fixture.h"
#include "support/live_process.h"
#include "tests/keystore/fixture.h"

namespace hsm::test::store_lockout {
namespace {

using keystore::test::PgSchema;
using keystore::test::test_pg_url;

const std::string kRight = "correct horse battery staple";
constexpr int kLimit = 3;
constexpr int kWrong = 6;

class Lockout : public HsmTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      if (test_pg_url().empty())
        GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh)";
      schema_.emplace();
    }
    std::ofstream out(ws_ / "hsmctl.toml");
    if (schema_) out << "store = \"" << schema_->url() << "\"\n";
    out << "[users]\nmax_auth_failures = " << kLimit << "\n";
    out.close();
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", kRight}}).code, 0);
    data_ = write_file("data.txt", "the quarterly report\n", 0644).string();
  }

  std::vector<nlohmann::json> transcript_entries() {
    std::vector<nlohmann::json> v;
    std::istringstream in(read_file(ws_ / "transcript.jsonl"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
  }

  std::optional<PgSchema> schema_;
  std::string data_;
};

TEST_P(Lockout, ConcurrentGuessesNeverLetARightOneThroughAfterTheLock) {
  // One failure from the limit already.
  const RunResult first = hsmctl({"user", "sign", "alice", "--in", data_, "--out",
                                  (tmp_.path() / "w.sig").string(), "--password-source", "env:PW"},
                                 {{"PW", "a wrong guess"}});
  ASSERT_EQ(first.code, 3) << first.err;

  std::vector<std::unique_ptr<LiveProcess>> running;
  const int right_at = kWrong / 2;  // started among the wrong ones
  for (int i = 0; i <= kWrong; ++i) {
    auto env = base_env();
    env["PW"] = i == right_at ? kRight : "wrong guess " + std::to_string(i);
    running.push_back(std::make_unique<LiveProcess>(
        std::vector<std::string>{HSMCTL_BINARY, "user", "sign", "alice", "--in", data_, "--out",
                                 (tmp_.path() / (std::to_string(i) + ".sig")).string(),
                                 "--password-source", "env:PW"},
        env, false));
  }
  std::vector<RunResult> results;
  for (auto& p : running) results.push_back(p->finish(std::chrono::seconds(300)));

  for (int i = 0; i <= kWrong; ++i) {
    const RunResult& r = results[static_cast<std::size_t>(i)];
    if (i == right_at && r.code == 0) continue;
    EXPECT_EQ(r.code, 3) << i << ": " << r.err;
    // One error line (besides "waiting for another hsmctl", while the others hold the lock).
    int errors = 0;
    for (const std::string& line : r.err_lines()) errors += line.starts_with("hsmctl: error:");
    EXPECT_EQ(errors, 1) << r.err;
    // Locked: the right guess and a wrong one that met the lock read alike.
    if (r.err.find("is locked after") != std::string::npos) {
      EXPECT_EQ(r.err.find("wrong password"), std::string::npos) << r.err;
      EXPECT_FALSE(std::filesystem::exists(tmp_.path() / (std::to_string(i) + ".sig")));
    }
  }
  const bool right_signed = results[static_cast<std::size_t>(right_at)].code == 0;

  // In the transcript's order: no signature after the entry that locked alice; the stored
  // failure count is the number of failures recorded since the last success.
  int failures = 0;
  bool locked = false, signed_after_lock = false, saw_sign = false;
  for (const nlohmann::json& e : transcript_entries()) {
    const std::string event = e.value("event", "");
    if (event == "user.signed") {
      saw_sign = true;
      signed_after_lock = signed_after_lock || locked;
      failures = 0;
    } else if (event == "user.auth.failed") {
      ++failures;
      EXPECT_EQ(e["data"]["failures"].get<int>(), failures) << e.dump();
      locked = locked || e["data"]["locked"].get<bool>();
    }
  }
  EXPECT_EQ(saw_sign, right_signed);
  EXPECT_FALSE(signed_after_lock);
  EXPECT_TRUE(locked);
  const nlohmann::json listed = hsmctl({"user", "list", "--json"}).json();
  ASSERT_EQ(listed["users"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["users"][0]["failures"].get<int>(), failures) << listed.dump();
  EXPECT_TRUE(listed["users"][0]["locked"].get<bool>()) << listed.dump();

  // Locked now: the right password gets exactly the answer of a wrong one.
  const auto attempt = [&](const std::string& pw) {
    return hsmctl({"user", "sign", "alice", "--in", data_, "--out",
                   (tmp_.path() / "late.sig").string(), "--password-source", "env:PW"},
                  {{"PW", pw}});
  };
  const RunResult right = attempt(kRight), wrong = attempt("yet another guess");
  EXPECT_EQ(right.code, 3);
  EXPECT_EQ(right.err, wrong.err);

  const RunResult doctor = hsmctl({"doctor", "--json"});
  EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
  const RunResult verify = hsmctl({"transcript", "verify", "--strict"});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, Lockout, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "PostgreSQL" : "SQLite";
                         });

}  // namespace
}  // namespace hsm::test::store_lockout
