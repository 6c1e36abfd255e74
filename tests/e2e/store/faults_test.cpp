// Faults of a PostgreSQL keystore, end to end, in the release build (no test hooks): the
// connection lost in the middle of a ceremony (the test's pg_terminate_backend, and the server
// stopped), the server restarted in the middle of a `user provision` batch, hsmctl killed with
// SIGKILL in the middle of one, and a server that refuses the password. Each ends with exit 6
// and one line naming the server (or, for kill -9, nothing), leaves the keystore and transcript
// consistent (doctor and transcript verify --strict clean), and the same command run again
// completes. The pause point is the password read from a FIFO (--password-source file:FIFO):
// hsmctl has its keystore connection open and waits there until the test writes. Server
// stops and restarts use a cluster of the test's own (pg_cluster.h), never the shared one.
// Skipped without HSMCTL_TEST_PG (scripts/lib/pg_pass.sh runs them).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "support/hsm_fixture.h"
#include "support/live_process.h"
#include "tests/e2e/store/pg_cluster.h"
#include "tests/keystore/fixture.h"

namespace hsm::test::store_faults {
namespace {

namespace fs = std::filesystem;
using keystore::test::PgSchema;
using keystore::test::test_pg_url;
using namespace std::chrono_literals;

const std::string kPassword = "correct horse battery staple";

class StoreFaults : public HsmTest {
 protected:
  void SetUp() override {
    if (test_pg_url().empty())
      GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh)";
    data_ = write_file("data.txt", "the quarterly report\n", 0644).string();
  }
  // The workspace on `url`, a master and user alice.
  void start_workspace(const std::string& url) {
    url_ = url;
    std::ofstream(ws_ / "hsmctl.toml") << "store = \"" << url_ << "\"\n";
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", kPassword}}).code, 0);
  }
  std::vector<std::string> sign_argv(const std::string& out, const std::string& source) {
    return {HSMCTL_BINARY, "user", "sign", "alice", "--in", data_, "--out",
            (tmp_.path() / out).string(), "--password-source", source};
  }
  // `user sign` paused at its password (a FIFO): its keystore connection is open by then.
  std::unique_ptr<LiveProcess> sign_paused_at_password(const std::string& out) {
    fifo_ = tmp_.path() / ("pw-" + out);
    EXPECT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
    auto p = std::make_unique<LiveProcess>(sign_argv(out, "file:" + fifo_.string()), base_env(),
                                           false);
    // Opening the FIFO for writing without blocking succeeds once hsmctl has it open to read.
    for (int i = 0; i < 600 && writer_ < 0; ++i) {
      writer_ = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (writer_ < 0) std::this_thread::sleep_for(100ms);
    }
    EXPECT_GE(writer_, 0) << "hsmctl never read its password: " << p->finish(1s).err;
    return p;
  }
  void give_password() {
    const std::string line = kPassword + "\n";
    EXPECT_EQ(::write(writer_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ::close(writer_);
    writer_ = -1;
  }
  // Doctor, transcript verify --strict, and a signature: the workspace is whole.
  void expect_whole(const std::string& sig) {
    const RunResult doctor = hsmctl({"doctor", "--json"});
    EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
    const RunResult verify = hsmctl({"transcript", "verify", "--strict"});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
    const auto argv = sign_argv(sig, "env:PW");
    const RunResult again =
        hsmctl(std::vector<std::string>(argv.begin() + 1, argv.end()), {{"PW", kPassword}});
    EXPECT_EQ(again.code, 0) << again.err;
  }
  void TearDown() override {
    if (writer_ >= 0) ::close(writer_);
  }

  std::string data_, url_;
  fs::path fifo_;
  int writer_ = -1;
};

// The server, as every message names it: postgresql://HOST:PORT/DB (a socket's directory is
// its host).
std::string server_of(const std::string& socket_dir) {
  return "postgresql://" + socket_dir + ":5432/hsmctl";
}

TEST_F(StoreFaults, ConnectionTerminatedMidCeremonyEndsWithOneLineAndRerunWorks) {
  PgSchema schema;
  const std::string app = "hsmctl_fault_" + std::to_string(::getpid());
  start_workspace(schema.url() + "&application_name=" + app);
  auto p = sign_paused_at_password("lost.sig");
  const RunResult killed = run_program(
      {"/usr/bin/psql", "-X", "-A", "-t", "-d", test_pg_url(), "-c",
       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
           app + "'"});
  ASSERT_EQ(killed.code, 0) << killed.err;
  // Every connection of the paused process: the keystore's, and on a workspace whose
  // transcript is in the database (every one since the fleet), the transcript's and the fleet
  // lock's.
  EXPECT_NE(killed.out, "0\n");
  give_password();
  const RunResult r = p->finish();
  expect_failure(r, 6, "the connection to the server was lost");
  if (const char* dir = std::getenv("HSMCTL_TEST_PG_DIR")) {  // set by scripts/lib/pg_cluster.sh
    EXPECT_NE(r.err.find("keystore " + server_of(dir)), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp_.path() / "lost.sig"));
  expect_whole("after.sig");
}

class StoreServerFaults : public StoreFaults {
 protected:
  void SetUp() override {
    StoreFaults::SetUp();
    if (IsSkipped()) return;
    cluster_ = std::make_unique<PgCluster>();
  }
  std::unique_ptr<PgCluster> cluster_;
};

TEST_F(StoreServerFaults, ServerStoppedMidCeremonyEndsWithOneLineAndRerunWorks) {
  start_workspace(cluster_->url());
  auto p = sign_paused_at_password("stopped.sig");
  cluster_->stop();
  give_password();
  const RunResult r = p->finish();
  expect_failure(r, 6, "keystore " + server_of(cluster_->dir()));
  EXPECT_FALSE(fs::exists(tmp_.path() / "stopped.sig"));
  // While it is down, a new command says so in one line.
  expect_failure(hsmctl({"user", "list"}), 6, "the server is not reachable");
  cluster_->start();
  expect_whole("after.sig");
}

// A batch of `rows` users (default KDF profile: about 0.1 s a user, so the first chunk is
// stored about a second in, long before the last row).
class StoreProvisionFaults : public StoreServerFaults {
 protected:
  static constexpr int kRows = 60;
  fs::path batch() {
    std::string csv = "name,password\n";
    for (int i = 0; i < kRows; ++i)
      csv += "b" + std::to_string(i) + ",batch-password-" + std::to_string(i) + "\n";
    return write_file("batch.csv", csv);
  }
  std::unique_ptr<LiveProcess> provision(const fs::path& from, const std::string& jobs) {
    auto p = std::make_unique<LiveProcess>(
        std::vector<std::string>{HSMCTL_BINARY, "--json", "user", "provision", "--from",
                                 from.string(), "--jobs", jobs},
        base_env(), false);
    EXPECT_TRUE(p->wait_for("\"status\":\"created\"", 0, 120s)) << p->shown();
    return p;
  }
  // Runs the batch again: it creates what is missing and skips the rest; then every user of
  // the file is there, whole (the last one signs).
  void rerun_completes(const fs::path& from) {
    const RunResult again = hsmctl({"--json", "user", "provision", "--from", from.string()});
    ASSERT_EQ(again.code, 0) << again.err;
    std::istringstream lines(again.out);
    nlohmann::json summary;
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) summary = nlohmann::json::parse(line);
    EXPECT_EQ(summary["summary"]["created"].get<int>() + summary["summary"]["skipped"].get<int>(),
              kRows) << again.out;
    EXPECT_GT(summary["summary"]["skipped"].get<int>(), 0) << again.out;
    EXPECT_EQ(hsmctl({"user", "list", "--json"}).json()["users"].size(),
              static_cast<std::size_t>(kRows + 1));
    const std::string last = "b" + std::to_string(kRows - 1);
    const RunResult sign = hsmctl({"user", "sign", last, "--in", data_, "--out",
                                   (tmp_.path() / "last.sig").string(), "--password-source",
                                   "env:PW"}, {{"PW", "batch-password-" + std::to_string(kRows - 1)}});
    EXPECT_EQ(sign.code, 0) << sign.err;
    expect_whole("after.sig");
  }
};

TEST_F(StoreProvisionFaults, ServerRestartedMidBatchFailsCleanlyAndRerunCompletesIt) {
  start_workspace(cluster_->url());
  const fs::path from = batch();
  auto p = provision(from, "2");
  cluster_->restart();
  const RunResult r = p->finish();
  expect_failure(r, 6, "keystore " + server_of(cluster_->dir()));
  // The users reported created are exactly the users stored: no half a user, none lost.
  int created = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    created += line.find("\"status\":\"created\"") != std::string::npos;
  EXPECT_GT(created, 0);
  EXPECT_LT(created, kRows) << "the batch finished before the restart: make it longer";
  EXPECT_EQ(hsmctl({"user", "list", "--json"}).json()["users"].size(),
            static_cast<std::size_t>(created + 1));
  rerun_completes(from);
}

TEST_F(StoreProvisionFaults, KilledMidBatchLosesNothingAndRerunCompletesIt) {
  start_workspace(cluster_->url());
  const fs::path from = batch();
  auto p = provision(from, "2");
  p->signal_group(SIGKILL);
  const RunResult r = p->finish();
  EXPECT_EQ(r.code, 128 + SIGKILL);
  // The server ends the dead connection's transaction; the workspace lock dies with the
  // process; the next command finds what the transcript recorded.
  rerun_completes(from);
}

TEST_F(StoreServerFaults, WrongHostPortOrPasswordFailWithOneLineNamingTheServer) {
  cluster_->require_passwords("the-role-password");
  const fs::path pass = write_file("pgpass", "*:*:*:*:not-the-password\n");
  const std::string shares = (tmp_.path() / "shares").string();
  make_private_dir(shares);
  const std::vector<std::string> init{"master", "init", "--threshold", "2", "--custodians",
                                      "a,b,c", "--shares-out", shares};
  const auto with_store = [&](const std::string& url) {
    std::vector<std::string> args{"--store", url};
    args.insert(args.end(), init.begin(), init.end());
    return args;
  };
  const RunResult wrong_password =
      hsmctl(with_store(cluster_->url()), {{"PGPASSFILE", pass.string()}});
  expect_failure(wrong_password, 6,
                 "keystore server " + server_of(cluster_->dir()) + ": authentication failed");
  EXPECT_EQ(wrong_password.err.find("not-the-password"), std::string::npos);
  expect_failure(hsmctl(with_store(cluster_->url()), {{"PGPASSFILE", "/nonexistent"}}), 6,
                 "keystore server " + server_of(cluster_->dir()) + ": authentication failed");
  expect_failure(hsmctl(with_store("postgresql://no-such-host.invalid/hsmctl?connect_timeout=5")),
                 6, "keystore server postgresql://no-such-host.invalid:5432/hsmctl: the server is "
                    "not reachable");
  expect_failure(hsmctl(with_store("postgresql://127.0.0.1:1/hsmctl?connect_timeout=5")), 6,
                 "keystore server postgresql://127.0.0.1:1/hsmctl: the server is not reachable");
  EXPECT_FALSE(fs::exists(ws_ / "keystore.url"));
  // The right password from PGPASSFILE: it works.
  const fs::path right = write_file("pgpass-right", "*:*:*:*:the-role-password\n");
  const RunResult ok = hsmctl(with_store(cluster_->url()), {{"PGPASSFILE", right.string()}});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace hsm::test::store_faults
