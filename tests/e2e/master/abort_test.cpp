// Interrupting master init: Ctrl-C at a real (pseudo-)terminal while a custodian's share is on
// screen, and SIGTERM while it waits for the workspace. The screen and scrollback are cleared
// after the share, one line says what happened, the transcript closes the ceremony with
// ceremony.aborted and still verifies, nothing of the ceremony is left on the token or in the
// keystore, exit 130. And doctor flags a ceremony.begin that has no end.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <filesystem>
#include <sstream>

#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kClearScrollback = "\033[3J";

class MasterAbort : public HsmTest {
 protected:
  std::vector<nlohmann::json> transcript_entries(const fs::path& ws) {
    std::vector<nlohmann::json> v;
    std::istringstream in(read_file(ws / "transcript.jsonl"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
  }

  std::unique_ptr<LiveProcess> start(const std::vector<std::string>& args, bool terminal) {
    std::vector<std::string> argv{HSMCTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<LiveProcess>(argv, base_env(), terminal);
  }

  // Takes custodian `name` through the name prompt to the screen showing their share; returns
  // the words shown and where in the output the share starts.
  std::vector<std::string> reveal(LiveProcess& p, const std::string& name, std::size_t& at) {
    const std::size_t from = p.shown().size();
    EXPECT_TRUE(p.wait_for(name + ", type your name to see your share: ", from)) << p.shown();
    p.type(name + "\n");
    const std::string done = "Press Enter when the share is written down.";
    EXPECT_TRUE(p.wait_for(done, from)) << p.shown();
    at = p.shown().find("Write every word down", from);
    const std::string screen = p.shown().substr(at, p.shown().find(done, at) - at);
    // "  1. wine             2. vexed ...": each word follows a number and ". ".
    std::vector<std::string> words;
    for (std::size_t i = 0; i + 2 < screen.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(screen[i])) || screen[i + 1] != '.' ||
          screen[i + 2] != ' ')
        continue;
      std::size_t end = i + 3;
      while (end < screen.size() && std::islower(static_cast<unsigned char>(screen[end]))) ++end;
      if (end > i + 3) words.push_back(screen.substr(i + 3, end - i - 3));
    }
    return words;
  }

  // Confirms the share just shown: Enter, then the two words asked for.
  void confirm(LiveProcess& p, const std::string& name, const std::vector<std::string>& words) {
    std::size_t from = p.shown().size();
    p.type("\n");
    for (int k = 0; k < 2; ++k) {
      const std::string ask = name + ", type word ";
      ASSERT_TRUE(p.wait_for(" of your share: ", from)) << p.shown();
      const std::size_t q = p.shown().find(ask, from);
      ASSERT_NE(q, std::string::npos);
      const int n = std::stoi(p.shown().substr(q + ask.size()));
      from = p.shown().find(" of your share: ", q) + 1;
      ASSERT_TRUE(p.wait_echo_off());
      p.type(words.at(static_cast<std::size_t>(n - 1)) + "\n");
    }
  }

  // The ceremony left nothing on the token: no master keys, only the transcript's own key.
  void expect_token_clean() {
    const RunResult objects = hsmctl({"token", "objects", "--json"});
    ASSERT_EQ(objects.code, 0) << objects.err;
    int transcript_keys = 0;
    const nlohmann::json listed = objects.json();
    for (const auto& o : listed["objects"]) {
      const std::string label = o["label"];
      EXPECT_EQ(label.rfind("hsmctl-mk-", 0), std::string::npos) << o.dump();
      if (label == "hsmctl-transcript" && o["class"] == "private-key") ++transcript_keys;
    }
    EXPECT_EQ(transcript_keys, 1) << objects.out;
    const RunResult status = hsmctl({"master", "status", "--json"});
    ASSERT_EQ(status.code, 0) << status.err;
    EXPECT_FALSE(status.json()["present"].get<bool>()) << status.out;
  }
};

TEST_F(MasterAbort, CtrlCWhileAShareIsOnScreenClearsItRecordsTheAbortAndUndoesEverything) {
  auto p = start({"master", "init", "--threshold", "2", "--custodians", "a,b,c"}, true);
  std::size_t at_a = 0, at_b = 0;
  const std::vector<std::string> first = reveal(*p, "a", at_a);
  ASSERT_EQ(first.size(), 33u) << p->shown();
  confirm(*p, "a", first);
  const std::vector<std::string> second = reveal(*p, "b", at_b);
  ASSERT_EQ(second.size(), 33u) << p->shown();

  p->type("\x03");  // Ctrl-C: the terminal sends SIGINT
  const RunResult r = p->finish();
  EXPECT_EQ(r.code, 130) << r.out << r.err;

  // The screen and its scrollback were cleared after b's share, and nothing of it came back.
  const std::size_t cleared = r.out.rfind(kClearScrollback);
  ASSERT_NE(cleared, std::string::npos);
  EXPECT_GT(cleared, at_b) << "no clear after the share on screen";
  const std::string after = r.out.substr(cleared);
  for (const auto& w : second) EXPECT_EQ(after.find(w), std::string::npos) << "'" << w << "' after the clear";

  // One line on stderr, saying what was kept (nothing) and that a's and b's shares are void.
  const auto lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("hsmctl: error: master init aborted by SIGINT", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("a, b"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("void"), std::string::npos) << lines[0];

  // The transcript closes the ceremony with ceremony.aborted, and verifies strictly.
  const auto entries = transcript_entries(ws_);
  ASSERT_FALSE(entries.empty());
  const nlohmann::json& last = entries.back();
  EXPECT_EQ(last["event"], "ceremony.aborted") << last.dump();
  EXPECT_EQ(last["data"]["signal"], "SIGINT");
  EXPECT_EQ(last["data"]["step"], "hand out shares");
  EXPECT_EQ(last["data"]["shares_shown"], nlohmann::json::array({"a", "b"}));
  EXPECT_EQ(last["data"]["what"], "master.init");
  bool begun = false;
  for (const auto& e : entries)
    begun = begun || (e["event"] == "ceremony.begin" && e["ceremony"] == last["ceremony"]);
  EXPECT_TRUE(begun);
  const RunResult verify = hsmctl({"transcript", "verify", "--strict"});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;

  expect_token_clean();
  const RunResult doctor = hsmctl({"doctor"});
  EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;

  // The same ceremony runs again from scratch.
  const RunResult again = master_init(tmp_.path() / "shares");
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST_F(MasterAbort, CtrlCAtAHiddenPromptGivesTheTerminalItsEchoBack) {
  ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
  // Inside a ceremony (user create asks for the new password after ceremony.begin) and outside
  // one (verify-share reads the share before anything is opened).
  const std::vector<std::vector<std::string>> commands = {
      {"user", "create", "dora", "--kdf-profile", "min"}, {"master", "verify-share"}};
  for (const auto& args : commands) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    auto p = start(args, true);
    ASSERT_TRUE(p->wait_for(": ", 0)) << p->shown();
    ASSERT_TRUE(p->wait_echo_off()) << p->shown();
    p->type("half a secr");
    p->type("\x03");
    const RunResult r = p->finish();
    EXPECT_EQ(r.code, 130) << r.out << r.err;
    EXPECT_TRUE(p->echo_on()) << "the terminal was left without echo";
  }
  const RunResult users = hsmctl({"user", "list", "--json"});
  EXPECT_TRUE(users.json()["users"].empty()) << users.out;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  EXPECT_EQ(hsmctl({"doctor"}).code, 0);
}

TEST_F(MasterAbort, SigtermWhileWaitingForTheWorkspaceStopsCleanly) {
  // Another process holds the workspace: init waits for it, and is told to stop meanwhile.
  const int lock = ::open((ws_ / ".hsmctl.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX), 0);
  const fs::path shares = tmp_.path() / "shares";
  make_private_dir(shares);
  auto p = start({"master", "init", "--threshold", "2", "--custodians", "a,b,c", "--shares-out",
                  shares.string()}, false);
  ASSERT_TRUE(p->wait_for_stderr("waiting for another hsmctl")) << p->shown();
  p->signal(SIGTERM);
  const RunResult r = p->finish();
  ::close(lock);
  EXPECT_EQ(r.code, 130) << r.out << r.err;
  std::vector<std::string> errors;  // besides "waiting for another hsmctl"
  for (const auto& l : r.err_lines())
    if (l.rfind("hsmctl: error: ", 0) == 0) errors.push_back(l);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_NE(errors[0].find("master init interrupted by SIGTERM before it began"),
            std::string::npos) << errors[0];
  EXPECT_TRUE(fs::is_empty(shares));
  // Nothing had begun: nothing recorded, and the next ceremony runs normally.
  EXPECT_FALSE(fs::exists(ws_ / "transcript.jsonl"));
  EXPECT_FALSE(fs::exists(ws_ / "transcript.pending.jsonl"));
  const RunResult again = master_init(shares);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  EXPECT_EQ(hsmctl({"doctor"}).code, 0);
}

TEST_F(MasterAbort, DoctorFlagsACeremonyBeginWithoutAnEndAndTheNextCeremonyClosesIt) {
  ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "carol", "bag 4411 intact"}).code, 0);
  // Cut the note ceremony's end: its begin is left open, as after a crash (the chain still
  // verifies: it is a prefix of a valid transcript).
  auto entries = transcript_entries(ws_);
  ASSERT_EQ(entries.back()["event"], "ceremony.end");
  const std::string open_id = entries.back()["ceremony"];
  std::string content = read_file(ws_ / "transcript.jsonl");
  content.pop_back();
  content.erase(content.rfind('\n') + 1);
  write_file("cut.jsonl", content);
  fs::copy_file(tmp_.path() / "cut.jsonl", ws_ / "transcript.jsonl",
                fs::copy_options::overwrite_existing);
  // What a kill before ceremony.end leaves: the tree index never held the cut entry either (a
  // cut the index saw would be refused as a truncated log).
  fs::remove_all(ws_ / "tlog");
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);

  const RunResult doctor = hsmctl({"doctor"});
  EXPECT_EQ(doctor.code, 4) << doctor.out << doctor.err;
  int flagged = 0;
  std::istringstream out(doctor.out);
  for (std::string line; std::getline(out, line);)
    if (line.rfind("problem", 0) == 0 && line.find(open_id) != std::string::npos &&
        line.find("has no end") != std::string::npos)
      ++flagged;
  EXPECT_EQ(flagged, 1) << doctor.out;

  // The next ceremony records the open one as interrupted; doctor is content again.
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "carol", "after the cut"}).code, 0);
  bool closed = false;
  for (const auto& e : transcript_entries(ws_))
    closed = closed || (e["event"] == "ceremony.interrupted" && e["data"]["ceremony"] == open_id);
  EXPECT_TRUE(closed);
  const RunResult after = hsmctl({"doctor"});
  EXPECT_EQ(after.code, 0) << after.out << after.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
