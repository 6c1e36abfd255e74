// A new password typed at a real terminal (a pty): a mistyped repeat asks again instead of
// ending the command, up to three tries; the prompts keep their case ("New password of user").
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

struct PtyResult {
  int code = -1;
  std::string screen;  // everything the command wrote to its terminal (stdout, stderr, tty)
};

// Runs argv on a new pty with `env`; each time the screen shows the next prompt of `answers`
// (and, for a hidden prompt, the command has turned echo off), types its answer and Enter.
PtyResult run_in_pty(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env,
                     const std::vector<std::pair<std::string, std::string>>& answers) {
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  PtyResult r;
  std::size_t next = 0, seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char buf[4096];
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the command closed its terminal (exited)
      r.screen.append(buf, static_cast<std::size_t>(n));
    }
    if (next < answers.size()) {
      const std::size_t at = r.screen.find(answers[next].first, seen);
      if (at == std::string::npos) continue;
      termios t{};
      if (::tcgetattr(master, &t) == 0 && (t.c_lflag & ECHO) != 0) continue;  // not hidden yet
      const std::string line = answers[next].second + "\n";
      EXPECT_EQ(::write(master, line.data(), line.size()), static_cast<ssize_t>(line.size()));
      seen = at + answers[next].first.size();
      ++next;
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  EXPECT_EQ(next, answers.size()) << "not every prompt came:\n" << r.screen;
  return r;
}

class NewSecretPty : public HsmTest {
 protected:
  void SetUp() override { ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0); }
  PtyResult create(const std::string& name,
                   const std::vector<std::pair<std::string, std::string>>& answers) {
    return run_in_pty({HSMCTL_BINARY, "user", "create", name, "--kdf-profile", "min"}, base_env(),
                      answers);
  }
};

TEST_F(NewSecretPty, AMismatchedRepeatAsksAgain) {
  const std::string prompt = "New password of user 'carol': ";
  const std::string repeat = "Repeat the new password of user 'carol': ";
  const PtyResult r = create("carol", {{prompt, "first password one"},
                                       {repeat, "first password two"},
                                       {prompt, "second password"},
                                       {repeat, "second password"}});
  EXPECT_EQ(r.code, 0) << r.screen;
  EXPECT_NE(r.screen.find("The two entries differ; type the new password of user 'carol' "
                          "again (2 of 3 tries left)"), std::string::npos) << r.screen;
  EXPECT_NE(r.screen.find("user 'carol' created"), std::string::npos) << r.screen;
  // The password that counts is the second one: signing with it works.
  const auto data = write_file("d.txt", "x\n");
  EXPECT_EQ(hsmctl({"user", "sign", "carol", "--in", data.string(), "--out",
                    (tmp_.path() / "d.sig").string(), "--password-source", "env:PW"},
                   {{"PW", "second password"}}).code, 0);
}

TEST_F(NewSecretPty, ThreeMismatchesEndTheCommandAndCreateNothing) {
  const std::string prompt = "New password of user 'dave': ";
  const std::string repeat = "Repeat the new password of user 'dave': ";
  std::vector<std::pair<std::string, std::string>> answers;
  for (int i = 0; i < 3; ++i) {
    answers.push_back({prompt, "a password " + std::to_string(i)});
    answers.push_back({repeat, "another one " + std::to_string(i)});
  }
  const PtyResult r = create("dave", answers);
  EXPECT_EQ(r.code, 2) << r.screen;
  EXPECT_NE(r.screen.find("hsmctl: error: the two entries of the new password of user 'dave' "
                          "differed 3 times; nothing changed"), std::string::npos) << r.screen;
  EXPECT_EQ(hsmctl({"user", "show", "dave"}).code, 7);
}

}  // namespace
}  // namespace hsm::test
