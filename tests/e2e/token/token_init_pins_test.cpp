// token init checks the label and both PINs against the token's own limits (ulMinPinLen and
// ulMaxPinLen, SoftHSM: 4 to 255) before anything changes, and finishes a token that an
// earlier run initialised but left without a user PIN.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

using TokenInitPins = HsmTest;

// The labels of the initialised tokens, from `token list --json`.
std::vector<std::string> labels_of(const RunResult& list) {
  std::vector<std::string> out;
  const auto doc = list.json();  // kept: a range-for over a temporary's member would dangle
  for (const auto& s : doc["slots"])
    if (!s["token"].is_null() && s["token"]["initialized"].get<bool>())
      out.push_back(s["token"]["label"]);
  return out;
}

TEST_F(TokenInitPins, AShortUserPinIsRefusedBeforeTheTokenIsTouched) {
  const auto before = labels_of(hsmctl({"token", "list", "--json"}));
  const RunResult r = hsmctl({"token", "init", "--label", "fresh", "--so-pin-source", "env:SO"},
                             {{"SO", kSoPin}, {"HSMCTL_TEST_PIN", "123"}});
  expect_failure(r, 2, "4 to 255");
  EXPECT_NE(r.err.find("user PIN"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
  EXPECT_EQ(labels_of(hsmctl({"token", "list", "--json"})), before);
  // The label is still free: the same command with a good PIN works.
  const RunResult ok = hsmctl({"token", "init", "--label", "fresh", "--so-pin-source", "env:SO"},
                              {{"SO", kSoPin}});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(hsmctl({"--token", "fresh", "token", "objects"}).code, 0);
}

TEST_F(TokenInitPins, TheSoPinIsCheckedBeforeTheUserPinIsRead) {
  // The user PIN's variable does not exist: the SO PIN is refused first.
  const RunResult r = hsmctl({"token", "init", "--label", "fresh", "--so-pin-source", "env:SO"},
                             {{"SO", "12"}, {"HSMCTL_PIN_SOURCE", "env:NO_SUCH_PIN"}});
  expect_failure(r, 2, "the SO PIN is too short for this token, which takes PINs of 4 to 255");
}

// At a terminal: the range is shown first, and a short SO PIN is refused as soon as it is
// typed, before it is asked for again. Driven through a pseudo-terminal by Python's pty.
TEST_F(TokenInitPins, AtAPromptTheRangeIsShownAndAShortPinIsRefusedAtOnce) {
  const char* driver = R"(
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
# The PIN is typed once the prompt is up; typed again if it was flushed with the terminal
# mode change, and the child is killed if nothing happens for 30 s.
out, typed, last, start = b"", 0.0, time.time(), time.time()
while time.time() - start < 30:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        last = time.time()
    prompted = b"New SO PIN: " in out and b"too short" not in out
    if prompted and time.time() - max(typed, last) > 0.3:
        os.write(fd, b"12\n")
        typed = time.time()
else:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
)";
  auto env = base_env();
  env["HSMCTL_PIN_SOURCE"] = "prompt";
  const RunResult r = run_program({"/usr/bin/python3", "-c", driver, HSMCTL_BINARY, "token",
                                   "init", "--label", "fresh", "--so-pin-source", "prompt"},
                                  env);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("PINs on this token are 4 to 255 characters long."), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the SO PIN is too short"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Repeat"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("user PIN:"), std::string::npos) << r.out;
}

TEST_F(TokenInitPins, ALongPinIsRefusedToo) {
  const RunResult r = hsmctl({"token", "init", "--label", "fresh", "--so-pin-source", "env:SO"},
                             {{"SO", kSoPin}, {"HSMCTL_TEST_PIN", std::string(256, '7')}});
  expect_failure(r, 2, "the user PIN is too long for this token, which takes PINs of 4 to 255");
  EXPECT_EQ(labels_of(hsmctl({"token", "list", "--json"})), std::vector<std::string>{"test"});
}

TEST_F(TokenInitPins, ALabelInUseIsRefusedBeforeAnyPinIsRead) {
  expect_failure(hsmctl({"token", "init", "--label", "test", "--so-pin-source", "env:NO_SO"},
                        {{"HSMCTL_PIN_SOURCE", "env:NO_SUCH_PIN"}}),
                 7, "already exists");
}

TEST_F(TokenInitPins, ATokenLeftWithoutAUserPinIsFinishedByTokenInit) {
  // A token initialised without a user PIN (what a failure after C_InitToken leaves).
  const RunResult list = hsmctl({"token", "list", "--json"});
  unsigned long free_slot = 0;
  const auto doc = list.json();
  for (const auto& s : doc["slots"])
    if (!s["token"].is_null() && !s["token"]["initialized"].get<bool>()) free_slot = s["slot_id"];
  ASSERT_EQ(run_program({"/usr/bin/pkcs11-tool", "--module", test_module(), "--slot",
                         std::to_string(free_slot), "--init-token", "--label", "half",
                         "--so-pin", kSoPin}, hsm_.env()).code, 0);
  ASSERT_FALSE(hsmctl({"--token", "half", "token", "info", "--json"})
                   .json()["user_pin_initialized"].get<bool>());
  // With the wrong SO PIN it says what state the token is in and how to finish it.
  const RunResult wrong = hsmctl({"token", "init", "--label", "half", "--so-pin-source",
                                  "env:SO"}, {{"SO", "9999-wrong"}});
  expect_failure(wrong, 3, "token 'half'");
  EXPECT_NE(wrong.err.find("is initialised but has no user PIN yet"), std::string::npos)
      << wrong.err;
  EXPECT_NE(wrong.err.find("hsmctl token init --label half"), std::string::npos) << wrong.err;
  // That command, with the right SO PIN, finishes it.
  const RunResult r = hsmctl({"token", "init", "--label", "half", "--so-pin-source", "env:SO"},
                             {{"SO", kSoPin}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(hsmctl({"--token", "half", "token", "info", "--json"})
                  .json()["user_pin_initialized"].get<bool>());
  EXPECT_EQ(hsmctl({"--token", "half", "token", "objects"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
