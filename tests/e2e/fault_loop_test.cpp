// PKCS#11 fault-injection loop: five ceremonies are run through the fault shim once per PKCS#11
// call they make, with that call failing, and every run must keep the failure contract (exit 6,
// one error line naming the CK_RV, no orphan object, no output file, a transcript that verifies
// and records the failure) and leave a state in which the same command then succeeds.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test::fault_loop {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLoopPassword = "fault loop password";

// Rotated across N, so every function meets several kinds of token failure.
const std::vector<std::string> kInjected = {"CKR_DEVICE_ERROR", "CKR_SESSION_HANDLE_INVALID",
                                            "CKR_TOKEN_NOT_PRESENT", "CKR_DEVICE_MEMORY"};

// Calls whose failure hsmctl may shrug off once the work is done: closing a session, logging
// out, destroying a session object. A run that fails one of these may succeed
// (exit 0); it is then checked as a success (output there, transcript verifies).
const std::set<std::string> kCleanupCalls = {"C_CloseSession", "C_CloseAllSessions", "C_Logout",
                                             "C_DestroyObject"};

struct Call {
  int index = 0;
  std::string function;
  bool injected = false;
};

std::vector<Call> read_shim_log(const fs::path& p) {
  std::vector<Call> calls;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    Call c;
    std::string rv, mark;
    s >> c.index >> c.function >> rv >> mark;
    c.injected = mark == "injected";
    calls.push_back(c);
  }
  std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.index < b.index; });
  return calls;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  if (!fs::is_directory(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// One ceremony under test: its arguments (the shim's --module is added), the token whose
// objects must not change on failure, and the directory its output files go to.
struct Ceremony {
  std::string name;
  std::vector<std::string> args;
  std::string token = "test";
  fs::path out_dir;                         // empty after every failure
  std::function<void()> check_success = {};  // after the counting run
};

struct Tally {
  int calls = 0, injected = 0, failed = 0, completed = 0;
  std::string completed_calls;
};

class FaultLoop : public HsmTest {
 protected:
  // The loop runs some 350 ceremonies whose fsyncs dominate on a disk (2.5 min instead of
  // 1): the tokens, the workspace and the outputs live in /dev/shm where there is one.
  FaultLoop() {
    std::string tmpl = "/dev/shm/hsmctl-faultloop-XXXXXX";
    if (fs::is_directory("/dev/shm") && ::mkdtemp(tmpl.data()) != nullptr)
      shm_ = root_ = tmpl;
    else
      root_ = tmp_.path() / "loop";
    hsm_ = SoftHsm(root_ / "softhsm");
    hsm_.init_token("test");
    ws_ = root_ / "ws";
    make_private_dir(ws_);
  }
  ~FaultLoop() override {
    std::error_code ec;
    if (!shm_.empty()) fs::remove_all(shm_, ec);
  }
  fs::path tokens() const { return root_ / "softhsm" / "tokens"; }
  fs::path snap() const { return root_ / "snapshot"; }
  fs::path out_dir() const { return root_ / "out"; }
  fs::path shim() const {
    return fs::path(HSMCTL_BINARY).parent_path() / "tests" / "faultshim" / "hsmfaultshim.so";
  }
  std::string in_tmp(const std::string& name) const { return (tmp_.path() / name).string(); }

  RunResult ok(const std::vector<std::string>& args) {
    RunResult r = hsmctl(args, {{"PW", kLoopPassword}});
    EXPECT_EQ(r.code, 0) << r.err;
    return r;
  }
  void master_init() {
    make_private_dir(tmp_.path() / "shares");
    ok({"master", "init", "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
        in_tmp("shares")});
  }

  // The state every faulty run starts from: both token directories and the workspace.
  void take_snapshot() {
    make_private_dir(snap());
    copy_tree(tokens(), snap() / "tokens");
    copy_tree(ws_, snap() / "ws");
    fs::remove_all(out_dir());
    make_private_dir(out_dir());
  }
  void restore_snapshot() {
    copy_tree(snap() / "tokens", tokens());
    copy_tree(snap() / "ws", ws_);
    fs::remove_all(out_dir());
    make_private_dir(out_dir());
  }

  // Token objects as SoftHSM's file store keeps them: one <uuid>.object file each, in one
  // directory per token, so comparing names finds any orphan without a process per check.
  // `token objects --json` is shown when they differ.
  std::set<std::string> object_files() const {
    std::set<std::string> out;
    for (const auto& token : fs::directory_iterator(tokens()))
      for (const auto& name : names_in(token.path()))
        if (name.size() > 7 && name.compare(name.size() - 7, 7, ".object") == 0 &&
            name != "token.object")
          out.insert(token.path().filename().string() + "/" + name);
    return out;
  }
  std::string objects_json(const std::string& token) {
    return hsmctl({"--token", token, "token", "objects", "--json"}).out;
  }

  RunResult through_shim(const Ceremony& c, const std::map<std::string, std::string>& faults) {
    std::vector<std::string> args{"--module", shim().string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    std::map<std::string, std::string> env{{"FAULTSHIM_MODULE", HSMCTL_SOFTHSM_MODULE},
                                           {"PW", kLoopPassword}};
    for (const auto& [k, v] : faults) env[k] = v;
    return hsmctl(args, env);
  }

  // No temporary file of write_new_file and no SQLite journal left anywhere we write.
  void expect_no_debris(const fs::path& dir) {
    for (const auto& name : names_in(dir)) {
      EXPECT_FALSE(name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) << dir / name;
      EXPECT_EQ(name.find("-journal"), std::string::npos) << dir / name;
      EXPECT_EQ(name.find("-wal"), std::string::npos) << dir / name;
    }
  }

  // The token holds what it held before, except for a transcript key that this run introduced
  // in the transcript (a first ceremony's provisional key signs transcript.open before the
  // ceremony begins; it is the workspace's transcript key from then on, not an orphan).
  void expect_no_orphan(const std::set<std::string>& before, std::size_t transcript_before,
                        const std::string& token) {
    const std::set<std::string> after = object_files();
    if (after == before) return;
    std::vector<std::string> added;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(added));
    const std::string listing = objects_json(token);
    std::string introduced;
    const auto transcript = lines_of(ws_ / "transcript.jsonl");
    for (std::size_t i = transcript_before; i < transcript.size(); ++i) {
      const auto e = nlohmann::json::parse(transcript[i]);
      if (e["event"] == "transcript.open" || e["event"] == "transcript.key")
        introduced = e["data"].value("key_id", "");
    }
    int transcript_key_objects = 0;
    const nlohmann::json doc = nlohmann::json::parse(listing);
    for (const auto& o : doc["objects"])
      if (!introduced.empty() && o["label"] == "hsmctl-transcript" && o["id"] == introduced)
        ++transcript_key_objects;
    EXPECT_TRUE(std::includes(after.begin(), after.end(), before.begin(), before.end()) &&
                added.size() == 2 && transcript_key_objects == 2)
        << added.size() << " new object(s) on token " << token << ", " << transcript_key_objects
        << " of them the transcript key '" << introduced << "' introduced by this run:\n"
        << listing;
  }

  // The run with call N failing kept the failure contract.
  void check_failed_run(const RunResult& r, const Call& call, const std::string& rv,
                        const std::set<std::string>& objects_before, std::size_t transcript_before,
                        std::size_t pending_before, const std::string& token) {
    // Every injected value is a token failure: exit 6, and the one error line names the CK_RV
    // (the convention for token errors; auth and integrity errors name none). No C_Login
    // failure becomes exit 3 here: only CKR_PIN_* values mean a wrong PIN (core/pkcs11/rv.cpp).
    expect_failure(r, 6, rv);
    EXPECT_EQ(r.out.find("CKR_"), std::string::npos) << r.out;
    expect_no_orphan(objects_before, transcript_before, token);
    EXPECT_TRUE(names_in(out_dir()).empty()) << "an output file was left behind";
    expect_no_debris(out_dir());
    expect_no_debris(ws_);

    // The failure is recorded: signed in the transcript when the token could still sign, else
    // kept in transcript.pending.jsonl for the next ceremony to enter.
    const auto transcript = lines_of(ws_ / "transcript.jsonl");
    const auto pending = lines_of(ws_ / "transcript.pending.jsonl");
    nlohmann::json failure;
    if (pending.size() > pending_before) {
      failure = nlohmann::json::parse(pending.back());
    } else {
      ASSERT_GT(transcript.size(), transcript_before) << "the failure of " << call.function
                                                      << " was recorded nowhere";
      const auto last = nlohmann::json::parse(transcript.back());
      EXPECT_EQ(last["event"], "ceremony.end") << last.dump();
      failure = last["data"];
    }
    EXPECT_EQ(failure.value("outcome", ""), "failure") << failure.dump();
    EXPECT_EQ(failure.value("exit_code", 0), 6) << failure.dump();
    EXPECT_NE(failure.value("message", "").find(rv), std::string::npos) << failure.dump();
  }

  // A run that exited 0 although call N failed: only a failed cleanup call (kCleanupCalls), a
  // ceremony.end the token could not sign after the work was done (kept pending, outcome ok),
  // or the checkpoint after a signed ceremony.end (the log's checkpoint then stays behind the
  // log, for the next ceremony to cover) may do that, and then everything the ceremony
  // promises is there.
  void check_completed_run(const Ceremony& c, const RunResult& r, const Call& call,
                           std::size_t pending_before) {
    const auto pending = lines_of(ws_ / "transcript.pending.jsonl");
    const bool end_kept = pending.size() > pending_before &&
                          nlohmann::json::parse(pending.back()).value("outcome", "") == "ok";
    const auto transcript = lines_of(ws_ / "transcript.jsonl");
    const auto checkpoint = lines_of(ws_ / "tlog" / "checkpoint");
    const bool checkpoint_skipped =
        !transcript.empty() &&
        nlohmann::json::parse(transcript.back())["data"].value("outcome", "") == "ok" &&
        (checkpoint.size() < 2 || std::stoull(checkpoint[1]) < transcript.size());
    EXPECT_TRUE(end_kept || checkpoint_skipped || kCleanupCalls.count(call.function) > 0)
        << call.function << " failed and the run still exited 0:\n" << r.err;
    EXPECT_EQ(r.err.find("hsmctl: error:"), std::string::npos) << r.err;
    if (c.check_success) c.check_success();
    expect_no_debris(out_dir());
    expect_no_debris(ws_);
  }

  void expect_transcript_verifies() {
    if (!fs::exists(ws_ / "transcript.jsonl")) return;  // a first ceremony that never signed
    const RunResult v = hsmctl({"transcript", "verify", "--json"});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }

  void loop(const Ceremony& c) {
    ASSERT_TRUE(fs::exists(shim())) << shim();
    take_snapshot();
    const auto started = std::chrono::steady_clock::now();
    const std::set<std::string> objects_before = object_files();
    const std::size_t transcript_before = lines_of(ws_ / "transcript.jsonl").size();
    const std::size_t pending_before = lines_of(ws_ / "transcript.pending.jsonl").size();

    // 1. Count the calls of a clean run through the shim.
    const fs::path count_log = tmp_.path() / "count.log";
    const RunResult counted = through_shim(c, {{"FAULTSHIM_LOG", count_log.string()}});
    ASSERT_EQ(counted.code, 0) << counted.err;
    if (c.check_success) c.check_success();
    const std::size_t objects_done = object_files().size();
    const std::vector<Call> calls = read_shim_log(count_log);
    ASSERT_FALSE(calls.empty());
    ASSERT_EQ(calls.back().index, static_cast<int>(calls.size())) << "the shim log has gaps";

    // 2. Fail each call once, in turn, from the same starting state. Every index, not a sample:
    //    the largest ceremony here makes ~110 calls.
    //    HSMCTL_FAULT_LOOP_STRIDE=K (scripts/test sets 4 for the sanitizer pass, whose runs are
    //    three times slower) fails every K-th call only; the release pass fails every one.
    Tally t;
    t.calls = static_cast<int>(calls.size());
    const char* stride_env = std::getenv("HSMCTL_FAULT_LOOP_STRIDE");
    const int stride = stride_env != nullptr ? std::max(1, std::atoi(stride_env)) : 1;
    for (const Call& call : calls) {
      if (call.function == "C_Finalize") continue;  // the shim spares it
      if (call.index % stride != 0) continue;
      const std::string& rv = kInjected[static_cast<std::size_t>(t.injected) % kInjected.size()];
      SCOPED_TRACE(c.name + ": call " + std::to_string(call.index) + " " + call.function + " -> " +
                   rv);
      restore_snapshot();
      const fs::path log = tmp_.path() / "nth.log";
      fs::remove(log);
      const RunResult r = through_shim(c, {{"FAULTSHIM_NTH", std::to_string(call.index)},
                                           {"FAULTSHIM_RV", rv},
                                           {"FAULTSHIM_LOG", log.string()}});
      const std::vector<Call> seen = read_shim_log(log);
      const auto hit = std::find_if(seen.begin(), seen.end(), [](const Call& s) { return s.injected; });
      ASSERT_NE(hit, seen.end()) << "nothing injected: the call sequence is not deterministic";
      EXPECT_EQ(hit->function, call.function) << "call " << call.index << " changed function";
      ++t.injected;

      if (r.code == 0) {
        ++t.completed;
        check_completed_run(c, r, call, pending_before);
        EXPECT_EQ(object_files().size(), objects_done) << objects_json(c.token);
        t.completed_calls += " " + call.function;
        expect_transcript_verifies();
        continue;
      }
      ++t.failed;
      check_failed_run(r, call, rv, objects_before, transcript_before, pending_before, c.token);
      expect_transcript_verifies();
      const bool pending = lines_of(ws_ / "transcript.pending.jsonl").size() > pending_before;

      // 3. Nothing is in the way of doing it again for real.
      const RunResult again = hsmctl(c.args, {{"PW", kLoopPassword}});
      EXPECT_EQ(again.code, 0) << again.err;
      if (pending) {
        EXPECT_FALSE(fs::exists(ws_ / "transcript.pending.jsonl"));
        const auto entered = lines_of(ws_ / "transcript.jsonl");
        EXPECT_TRUE(std::any_of(entered.begin(), entered.end(), [](const std::string& l) {
          return l.find("\"event\":\"ceremony.unsigned-failure\"") != std::string::npos;
        })) << "the pending failure was not entered by the next ceremony";
      }
      if (::testing::Test::HasFailure()) break;  // the first broken index is the one to read
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "[fault-loop] " << c.name << ": " << t.calls << " PKCS#11 calls, " << t.injected
              << " faults injected (every " << stride << "), " << t.failed << " failed cleanly with exit 6, " << t.completed
              << " completed (cleanup call or unsigned ceremony.end:" << t.completed_calls << "), "
              << seconds << " s\n";
    EXPECT_EQ(t.injected, t.failed + t.completed);
  }

  fs::path root_, shm_;
};

TEST_F(FaultLoop, MasterInit) {
  make_private_dir(out_dir());
  loop({"master init",
        {"master", "init", "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
         out_dir().string()},
        "test",
        out_dir(),
        [this] { EXPECT_EQ(names_in(out_dir()).size(), 3u); }});
}

TEST_F(FaultLoop, UserCreate) {
  master_init();
  loop({"user create",
        {"user", "create", "alice", "--kdf-profile", "min", "--password-source", "env:PW"},
        "test",
        out_dir(),
        {}});
}

TEST_F(FaultLoop, UserSign) {
  master_init();
  ok({"user", "create", "alice", "--kdf-profile", "min", "--password-source", "env:PW"});
  const std::string pem = write_file("alice.pem", ok({"user", "export-public", "alice"}).out).string();
  const std::string data = write_file("data.txt", "bytes to sign\n", 0644).string();
  const std::string sig = (out_dir() / "alice.sig").string();
  loop({"user sign",
        {"user", "sign", "alice", "--in", data, "--out", sig, "--password-source", "env:PW"},
        "test",
        out_dir(),
        [&] {
          const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature", sig, data});
          EXPECT_EQ(v.code, 0) << v.out << v.err;
          const std::string t = read_file(ws_ / "transcript.jsonl");
          EXPECT_EQ(t.find("user.auth.failed"), std::string::npos);
        }});
}

TEST_F(FaultLoop, BackupRestore) {
  master_init();
  ok({"key", "generate", "root", "--algo", "ec-p256", "--purpose", "ca"});
  const std::string two = write_file("two", read_file(tmp_.path() / "shares" / "a.share") +
                                                read_file(tmp_.path() / "shares" / "c.share"))
                              .string();
  const std::string file = in_tmp("site.hsmbk");
  ok({"backup", "create", "--out", file, "--shares-file", two});
  hsm_.init_token("B");
  ok({"--token", "B", "master", "restore", "--shares-file", two});
  loop({"backup restore",
        {"--token", "B", "backup", "restore", file, "--shares-file", two},
        "B",
        out_dir(),
        {}});
}

TEST_F(FaultLoop, SignCert) {
  master_init();
  ok({"key", "generate", "root", "--algo", "ec-p256", "--purpose", "ca"});
  const std::string cert = (out_dir() / "root.pem").string();
  loop({"sign cert",
        {"sign", "cert", "--key", "root", "--self-signed", "--subject", "CN=Fault Loop Root",
         "--days", "3650", "--out", cert},
        "test",
        out_dir(),
        [&] {
          const RunResult v = openssl({"verify", "-CAfile", cert, cert});
          EXPECT_EQ(v.code, 0) << v.out << v.err;
        }});
}

}  // namespace
}  // namespace hsm::test::fault_loop
