// Crash consistency: master init and user provision killed (SIGKILL through HSMCTL_CRASH_AT, test
// builds only) at every recorded point; after each kill the keystore passes SQLite's integrity
// check, doctor passes or names the damage, the transcript verifies (or ends in one torn line),
// no secret the test knows is on disk, and the documented recovery finishes the job.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

constexpr int kKilled = 128 + 9;
const std::string kCrashProvisionPw = "crash-password-";  // + index: each user's password

// The --json lines of user provision.
std::vector<nlohmann::json> provision_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

class Crash : public HsmTest {
 protected:
  void SetUp() override {
#ifndef HSMCTL_TEST_HOOKS
    GTEST_SKIP() << "built without HSMCTL_TEST_HOOKS: no crash points";
#endif
  }

  RunResult crash_at(const std::vector<std::string>& args, const std::string& point, int n,
                     std::map<std::string, std::string> extra = {}) {
    extra["HSMCTL_CRASH_AT"] = point + ":" + std::to_string(n);
    return hsmctl(args, extra);
  }
  RunResult init(const fs::path& shares) {
    make_private_dir(shares);
    return hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
                   shares.string(), "--json"});
  }
  std::vector<std::string> mnemonics(const fs::path& shares) {
    std::vector<std::string> v;
    if (!fs::exists(shares)) return v;
    for (const auto& e : fs::directory_iterator(shares)) {
      std::string m = read_file(e.path());
      while (!m.empty() && m.back() == '\n') m.pop_back();
      if (!m.empty()) v.push_back(m);
    }
    return v;
  }

  // SQLite's own check of the keystore file, with the stock CLI.
  void expect_keystore_intact() {
    const auto ks = ws_ / "keystore.sqlite";
    if (!fs::exists(ks)) return;  // killed before the workspace was made: nothing to check
    const RunResult r = run_program({"/usr/bin/sqlite3", ks.string(), "PRAGMA integrity_check;"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\n");
  }
  // The transcript verifies, or its only fault is one torn last line.
  void expect_transcript_verifies_or_torn() {
    if (!fs::exists(ws_ / "transcript.jsonl")) return;
    const RunResult r = hsmctl({"transcript", "verify", "--json"});
    if (r.code == 0) return;
    EXPECT_EQ(r.code, 4) << r.err;
    const nlohmann::json doc = r.json();
    // Killed before the first entry was written: an empty file, which the next ceremony opens.
    if (doc["entries"] == 0 && doc["reason"] == "the transcript is empty") return;
    EXPECT_TRUE(doc["torn_last_line"].get<bool>()) << r.out << r.err;
  }
  // Doctor runs and either passes or names each problem among `allowed` checks (by prefix).
  void expect_doctor(const std::set<std::string>& allowed_problems) {
    if (!fs::exists(ws_ / "keystore.sqlite")) return;
    const RunResult r = hsmctl({"doctor", "--json"});
    ASSERT_TRUE(r.code == 0 || r.code == 4) << r.out << r.err;
    const nlohmann::json doc = r.json();
    EXPECT_EQ(r.code == 0, doc["ok"].get<bool>());
    for (const auto& f : doc["findings"]) {
      if (f["status"] != "problem") continue;
      const std::string check = f["check"];
      bool ok = false;
      for (const auto& a : allowed_problems) ok = ok || check.rfind(a, 0) == 0;
      EXPECT_TRUE(ok) << "unexplained doctor problem: " << f.dump();
      EXPECT_FALSE(f["detail"].get<std::string>().empty());
    }
  }
  // No file under the test's temp dir (workspace, token dir, outputs) holds a known secret,
  // except the files that hold it on purpose (`exempt`).
  void expect_no_secret_on_disk(const std::vector<std::string>& secrets,
                                const std::set<fs::path>& exempt_dirs,
                                const std::set<fs::path>& exempt_files = {}) {
    for (const auto& e : fs::recursive_directory_iterator(tmp_.path())) {
      if (!e.is_regular_file()) continue;
      if (exempt_files.count(e.path()) != 0) continue;
      if (exempt_dirs.count(e.path().parent_path()) != 0) continue;
      const std::string content = read_file(e.path());
      for (const auto& s : secrets) {
        EXPECT_EQ(content.find(s), std::string::npos) << "secret found in " << e.path();
      }
    }
  }
  void repair_if_torn() {
    const RunResult v = hsmctl({"transcript", "verify", "--json"});
    if (v.code != 0 && v.json()["torn_last_line"].get<bool>()) {
      ASSERT_EQ(hsmctl({"transcript", "verify", "--repair"}).code, 0);
    }
  }
};

// ---- master init -------------------------------------------------------------------------

struct InitPoint {
  std::string point;
  int n;
  bool token_has_master;  // the kill leaves MK-wrap on the token
  bool recorded;          // ... and the keystore's master record (no recovery needed)
};

TEST_F(Crash, MasterInitKilledAtEveryPointLeavesARecoverableWorkspace) {
  // A clean run writes transcript.open, ceremony.begin, master.init, transcript.key (the escrowed
  // key signs on), then commits the keystore, then writes ceremony.end.
  const std::vector<InitPoint> table = {
      {"transcript.before-write", 1, false, false},
      {"transcript.after-write", 1, false, false},
      {"transcript.after-write", 2, false, false},
      {"master-init.after-shares", 1, false, false},
      {"master-init.after-token-keys", 1, true, false},
      {"master-init.after-transcript-key", 1, true, false},
      {"transcript.before-write", 3, true, false},
      {"transcript.after-write", 3, true, false},
      {"transcript.after-write", 4, true, false},  // transcript.key: signed on before the commit
      {"master-init.before-commit", 1, true, false},
      {"master-init.after-commit", 1, true, true},
      {"transcript.after-write", 5, true, true},
  };
  int round = 0;
  for (const auto& row : table) {
    SCOPED_TRACE(row.point + ":" + std::to_string(row.n));
    // A fresh token and workspace per row.
    const std::string token = "crash" + std::to_string(++round);
    hsm_.init_token(token);
    ws_ = tmp_.path() / ("ws-" + token);
    make_private_dir(ws_);
    const fs::path shares = tmp_.path() / ("shares-" + token);
    make_private_dir(shares);
    const std::vector<std::string> args{"--token", token, "master", "init", "--threshold", "2",
                                        "--custodians", "a,b,c", "--shares-out", shares.string()};
    const RunResult killed = crash_at(args, row.point, row.n);
    ASSERT_EQ(killed.code, kKilled) << killed.out << killed.err;

    expect_keystore_intact();
    expect_transcript_verifies_or_torn();
    {
      const RunResult r = hsmctl({"--token", token, "doctor", "--json"});
      if (fs::exists(ws_ / "keystore.sqlite")) {
        ASSERT_TRUE(r.code == 0 || r.code == 4) << r.err;
        const nlohmann::json doc = r.json();
        bool noted_master = false;
        for (const auto& f : doc["findings"]) {
          const std::string check = f["check"], status = f["status"];
          if (check == "master" && status == "note") noted_master = true;
          if (status == "problem") {  // only a leftover object of the killed run may be a problem
            EXPECT_TRUE(check.rfind("object:", 0) == 0 || check == "transcript") << f.dump();
          }
        }
        EXPECT_EQ(noted_master, row.token_has_master && !row.recorded) << r.out;
      }
    }
    std::vector<std::string> secrets = mnemonics(shares);
    secrets.push_back(kPin);
    secrets.push_back(kSoPin);
    expect_no_secret_on_disk(secrets, {shares});

    // Recovery, as hsmctl-master(1) documents it. The share files of the killed run come
    // first: init refuses to overwrite them, and they are shares of a master that never was
    // recorded, so they are moved away.
    if (!mnemonics(shares).empty()) {
      expect_failure(hsmctl(args), 7, "already exists");
      fs::remove_all(shares);
      make_private_dir(shares);
    }
    if (row.recorded) {
      // Nothing to redo: the master is there and the next ceremony works.
      const RunResult st = hsmctl({"--token", token, "master", "status", "--json"});
      ASSERT_EQ(st.code, 0) << st.err;
      EXPECT_EQ(st.json()["kcv"], st.json()["recorded_kcv"]);
      expect_failure(hsmctl(args), 7, "already holds a master key");
    } else {
      if (row.token_has_master) {
        expect_failure(hsmctl(args), 7, "already holds a master key");
        // "initialise the token again before a new init" (an admin step outside hsmctl).
        const RunResult del = run_program(
            {"/usr/bin/softhsm2-util", "--delete-token", "--token", token}, hsm_.env());
        ASSERT_EQ(del.code, 0) << del.out << del.err;
        hsm_.init_token(token);
      }
      repair_if_torn();
      const RunResult again = hsmctl(args);
      ASSERT_EQ(again.code, 0) << again.err;
    }
    const RunResult key = hsmctl({"--token", token, "key", "generate", "after-crash", "--algo", "ec-p256",
                                  "--purpose", "code"});
    EXPECT_EQ(key.code, 0) << key.err;
    const RunResult doc = hsmctl({"--token", token, "doctor"});
    EXPECT_EQ(doc.code, 0) << doc.out << doc.err;
    EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
  }
}

// ---- user provision ----------------------------------------------------------------------

TEST_F(Crash, UserProvisionKilledMidBatchIsFinishedByRunningItAgain) {
  const fs::path shares = tmp_.path() / "shares";
  ASSERT_EQ(init(shares).code, 0);
  constexpr int kUsers = 6;
  std::string csv = "name,password\n";
  std::vector<std::string> secrets = mnemonics(shares);
  secrets.push_back(kPin);
  for (int i = 0; i < kUsers; ++i) {
    csv += "u" + std::to_string(i) + "," + kCrashProvisionPw + std::to_string(i) + "\n";
    secrets.push_back(kCrashProvisionPw + std::to_string(i));
  }
  const fs::path from = write_file("users.csv", csv);
  fs::copy(ws_, tmp_.path() / "ws-clean", fs::copy_options::recursive);
  const std::vector<std::string> args{"user", "provision", "--from", from.string(),
                                      "--kdf-profile", "min", "--json"};
  struct Point {
    std::string chunks_per_commit;
    std::string point;
    int n;
    int stored;  // users in the keystore after the kill
  };
  // Chunks of 2 users: 3 chunks, each one user.provisioned entry. Transcript writes:
  // ceremony.begin (1), then one user.provisioned per chunk (2, 3, 4). One keystore
  // transaction per chunk, or per two chunks (the first commit then stores four users, and a
  // kill before it leaves the keystore two recorded states behind the transcript).
  const std::vector<Point> table = {
      {"1", "user-provision.sealed", 1, 0},         {"1", "user-provision.sealed", 2, 0},
      {"1", "user-provision.sealed", 4, 2},         {"1", "user-provision.sealed", 6, 4},
      {"1", "user-provision.before-commit", 1, 0},  {"1", "user-provision.before-commit", 3, 4},
      {"1", "user-provision.after-commit", 1, 2},   {"1", "user-provision.after-commit", 2, 4},
      {"1", "user-provision.after-commit", 3, 6},   {"1", "transcript.before-write", 1, 0},
      {"1", "transcript.after-write", 1, 0},        {"1", "transcript.after-write", 3, 2},
      {"1", "transcript.before-write", 5, 6},
      {"2", "user-provision.sealed", 4, 0},         {"2", "user-provision.sealed", 6, 4},
      {"2", "user-provision.before-commit", 1, 0},  {"2", "user-provision.after-commit", 1, 4},
      {"2", "user-provision.after-commit", 2, 6},   {"2", "transcript.after-write", 3, 0},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.chunks_per_commit + " " + row.point + ":" + std::to_string(row.n));
    const std::map<std::string, std::string> chunked{
        {"HSMCTL_TEST_CHUNK_USERS", "2"},
        {"HSMCTL_TEST_CHUNK_SECONDS", "3600"},
        {"HSMCTL_TEST_CHUNKS_PER_COMMIT", row.chunks_per_commit}};
    // The workspace as master init left it, and a token without the users' key objects (user
    // keys live only in the keystore, so the token needs no reset).
    fs::remove_all(ws_);
    fs::copy(tmp_.path() / "ws-clean", ws_, fs::copy_options::recursive);
    std::map<std::string, std::string> env = chunked;
    const RunResult killed = crash_at(args, row.point, row.n, env);
    ASSERT_EQ(killed.code, kKilled) << killed.out << killed.err;

    expect_keystore_intact();
    expect_transcript_verifies_or_torn();
    // The killed ceremony's begin has no end: doctor names it (until the rerun closes it).
    expect_doctor({"transcript"});
    expect_no_secret_on_disk(secrets, {shares}, {from});
    const nlohmann::json listed = hsmctl({"user", "list", "--json"}).json();
    EXPECT_EQ(static_cast<int>(listed["users"].size()), row.stored) << listed.dump();

    // Recovery (hsmctl-user(1)): run the same command again; existing users are skipped.
    repair_if_torn();
    const RunResult again = hsmctl(args, chunked);
    ASSERT_EQ(again.code, 0) << again.err;
    const nlohmann::json after = hsmctl({"user", "list", "--json"}).json();
    EXPECT_EQ(static_cast<int>(after["users"].size()), kUsers);
    const std::string data = write_file("data", "after the crash\n").string();
    const fs::path sig = tmp_.path() / "u5.sig";
    fs::remove(sig);
    const RunResult s = hsmctl({"user", "sign", "u5", "--in", data, "--out", sig.string(),
                                "--password-source", "env:PW"},
                               {{"PW", kCrashProvisionPw + "5"}});
    EXPECT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(hsmctl({"doctor"}).code, 0);
    EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
    expect_no_secret_on_disk(secrets, {shares}, {from});
  }
}

TEST_F(Crash, UserProvisionWorkersKilledFailTheirRowsAndARerunFinishes) {
  const fs::path shares = tmp_.path() / "shares";
  ASSERT_EQ(init(shares).code, 0);
  constexpr int kUsers = 12;
  std::string csv = "name,password\n";
  for (int i = 0; i < kUsers; ++i)
    csv += "w" + std::to_string(i) + "," + kCrashProvisionPw + std::to_string(i) + "\n";
  const fs::path from = write_file("workers.csv", csv);
  const std::vector<std::string> args{"user", "provision", "--from", from.string(),
                                      "--kdf-profile", "min", "--jobs", "2", "--json"};
  // Each worker kills itself after sealing its third row, before reporting it: batches are one
  // row here (12 rows, 2 workers), so each has reported two. The parent stores those four, fails
  // the rest with the reason, and ends the ceremony normally (exit 1: some rows failed).
  const RunResult r = crash_at(args, "user-provision.worker-sealed", 3);
  ASSERT_EQ(r.code, 1) << r.out << r.err;
  const auto lines = provision_lines(r.out);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json summary = lines.back()["summary"];
  EXPECT_EQ(summary["created"], 4) << r.out;
  EXPECT_EQ(summary["failed"], 8) << r.out;
  for (const auto& j : lines) {
    if (!j.contains("status") || j["status"] != "failed") continue;
    EXPECT_NE(j["error"].get<std::string>().find("killed by signal 9"), std::string::npos) << j;
  }
  expect_keystore_intact();
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  EXPECT_EQ(hsmctl({"user", "list", "--json"}).json()["users"].size(), 4u);

  const RunResult again = hsmctl(args);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(provision_lines(again.out).back()["summary"]["created"], 8);
  EXPECT_EQ(provision_lines(again.out).back()["summary"]["skipped"], 4);
  const std::string data = write_file("data-w", "after the workers died\n").string();
  for (int i : {0, 5, 11}) {
    const fs::path sig = tmp_.path() / ("w" + std::to_string(i) + ".sig");
    const RunResult s = hsmctl({"user", "sign", "w" + std::to_string(i), "--in", data, "--out",
                                sig.string(), "--password-source", "env:PW"},
                               {{"PW", kCrashProvisionPw + std::to_string(i)}});
    ASSERT_EQ(s.code, 0) << s.err;
    const fs::path pem = tmp_.path() / ("w" + std::to_string(i) + ".pem");
    ASSERT_EQ(hsmctl({"user", "export-public", "w" + std::to_string(i), "--out", pem.string()})
                  .code,
              0);
    const RunResult v = openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature",
                                 sig.string(), data});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  EXPECT_EQ(hsmctl({"doctor"}).code, 0);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
