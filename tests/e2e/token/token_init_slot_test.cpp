// token init --slot and --current-so-pin-source end to end: the slot chosen is the one
// initialised, an initialised token is re-initialised only when confirmed (typed or --yes) and
// with its current SO PIN, and a token ends with the SO PIN the user chose.
#include <fmt/format.h>

#include "core/pkcs11/uri.h"
#include "support/hsm_fixture.h"
#include "support/pty_session.h"

namespace hsm::test {
namespace {

class TokenInitSlot : public HsmTest {
 protected:
  // The free slot hsmctl lists (one module has one).
  unsigned long free_slot() {
    const nlohmann::json listed = hsmctl({"token", "list", "--json"}).json();
    for (const auto& s : listed["slots"])
      if (!s["token"].is_null() && !s["token"]["initialized"].get<bool>()) return s["slot_id"];
    ADD_FAILURE() << "no free slot";
    return 0;
  }
  // Whether `so_pin` is the SO PIN of the token labelled `label` (it logs in as SO with it and
  // sets the same PIN again, the one thing pkcs11-tool does as SO that changes nothing).
  bool so_pin_is(const std::string& label, const std::string& so_pin) {
    return run_program({"/usr/bin/pkcs11-tool", "--module", test_module(), "--token-label", label,
                        "--login", "--login-type", "so", "--so-pin", so_pin, "--change-pin",
                        "--new-pin", so_pin},
                       hsm_.env()).code == 0;
  }
  RunResult init(const std::vector<std::string>& extra_args,
                 const std::map<std::string, std::string>& extra_env = {}) {
    std::vector<std::string> args{"token", "init", "--so-pin-source", "env:SO", "--json"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto env = extra_env;
    env.emplace("SO", "new-so-pin-1");
    env.emplace("HSMCTL_TEST_PIN", "new-user-pin-1");
    return hsmctl(args, env);
  }
};

TEST_F(TokenInitSlot, TheSlotGivenByIdIsInitialised) {
  const unsigned long slot = free_slot();
  const RunResult r = init({"--label", "chosen", "--slot", std::to_string(slot)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "chosen");
  // Found again in the slot it was made in (SoftHSM numbers it anew in later runs).
  EXPECT_EQ(r.json()["slot_id"].get<unsigned long>(), slot);
  EXPECT_TRUE(so_pin_is("chosen", "new-so-pin-1"));
}

TEST_F(TokenInitSlot, TheSlotGivenByUriIsInitialised) {
  const unsigned long slot = free_slot();
  const RunResult r = init({"--label", "by-uri", "--slot", fmt::format("pkcs11:slot-id={}", slot)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(hsmctl({"--token", "by-uri", "token", "objects"},
                   {{"HSMCTL_TEST_PIN", "new-user-pin-1"}}).code, 0);
}

TEST_F(TokenInitSlot, AnUnknownOrAmbiguousSlotIsRefusedBeforeAnythingIsAsked) {
  const RunResult unknown = init({"--label", "x", "--slot", "4242"}, {{"SO", ""}});
  expect_failure(unknown, 7, "no slot 4242 with a token on module " + test_module());
  hsm_.init_token("dup");
  hsm_.init_token("dup");
  const RunResult ambiguous = init({"--label", "x", "--slot", "pkcs11:token=dup"});
  expect_failure(ambiguous, 2, "matches several slots");
  EXPECT_NE(ambiguous.err.find("--slot 'pkcs11:token=dup;slot-id="), std::string::npos)
      << ambiguous.err;
}

TEST_F(TokenInitSlot, AnInitialisedTokenIsNotReinitialisedWithoutConfirmation) {
  const unsigned long slot = hsm_.slot_of("test");
  const RunResult r = init({"--label", "other", "--slot", std::to_string(slot)});
  expect_failure(r, 2, fmt::format("slot {} holds the initialised token 'test'", slot));
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;
  EXPECT_EQ(hsmctl({"token", "objects"}).code, 0);  // still 'test', with its PIN
}

TEST_F(TokenInitSlot, WithYesAndTheCurrentSoPinTheTokenIsReinitialisedWithTheNewSoPin) {
  const unsigned long slot = hsm_.slot_of("test");
  const RunResult r = init({"--yes", "--label", "renewed", "--slot", std::to_string(slot),
                            "--current-so-pin-source", "env:CURRENT_SO"},
                           {{"CURRENT_SO", kSoPin}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "renewed");
  EXPECT_EQ(hsm_.slot_of("renewed"), r.json()["slot_id"].get<unsigned long>());
  EXPECT_TRUE(so_pin_is("renewed", "new-so-pin-1"));
  EXPECT_FALSE(so_pin_is("renewed", kSoPin));
}

TEST_F(TokenInitSlot, AWrongCurrentSoPinLeavesTheTokenAsItWas) {
  const RunResult r = init({"--yes", "--label", "renewed", "--slot",
                            std::to_string(hsm_.slot_of("test")), "--current-so-pin-source",
                            "env:CURRENT_SO"},
                           {{"CURRENT_SO", "0000-wrong-so"}});
  expect_failure(r, 3, "initialising the token");
  EXPECT_EQ(hsmctl({"token", "objects"}).code, 0);
}

TEST_F(TokenInitSlot, ReinitialisingIsConfirmedByTypingTheLabelAtATerminal) {
  auto env = base_env();
  env["SO"] = "new-so-pin-1";
  env["CURRENT_SO"] = kSoPin;
  env["HSMCTL_TEST_PIN"] = "new-user-pin-1";
  const std::string slot = std::to_string(hsm_.slot_of("test"));
  {
    PtySession t({HSMCTL_BINARY, "token", "init", "--label", "typed", "--slot", slot,
                  "--so-pin-source", "env:SO", "--current-so-pin-source", "env:CURRENT_SO"},
                 env);
    ASSERT_TRUE(t.expect("Type its label to confirm:")) << t.screen();
    t.send_line("not-the-label");
    EXPECT_EQ(t.wait(), 2) << t.err();
    EXPECT_NE(t.err().find("not confirmed"), std::string::npos) << t.err();
  }
  EXPECT_EQ(hsmctl({"token", "objects"}).code, 0);  // untouched
  PtySession t({HSMCTL_BINARY, "token", "init", "--label", "typed", "--slot", slot,
                "--so-pin-source", "env:SO", "--current-so-pin-source", "env:CURRENT_SO"},
               env);
  ASSERT_TRUE(t.expect("Type its label to confirm:")) << t.screen();
  t.send_line("test");
  EXPECT_EQ(t.wait(), 0) << t.err();
  EXPECT_TRUE(so_pin_is("typed", "new-so-pin-1"));
}

TEST_F(TokenInitSlot, AFactorySoPinIsUsedToInitialiseAndReplacedByTheNewOne) {
  // A free slot whose token ships with a factory SO PIN: C_InitToken takes that PIN, and the
  // token ends with the one chosen.
  const RunResult r = init({"--label", "factory", "--current-so-pin-source", "env:FACTORY"},
                           {{"FACTORY", "87654321"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(so_pin_is("factory", "new-so-pin-1"));
  EXPECT_FALSE(so_pin_is("factory", "87654321"));
  EXPECT_EQ(hsmctl({"--token", "factory", "token", "objects"},
                   {{"HSMCTL_TEST_PIN", "new-user-pin-1"}}).code, 0);
}

TEST_F(TokenInitSlot, ASlotUriNamingAModuleLoadsIt) {
  // The free slot as SoftHSM itself numbers it (through the proxy the ids differ).
  const std::map<std::string, std::string> softhsm{{"HSMCTL_MODULE", HSMCTL_SOFTHSM_MODULE}};
  unsigned long slot = 0;
  const nlohmann::json listed = hsmctl({"token", "list", "--json"}, softhsm).json();
  for (const auto& s : listed["slots"])
    if (!s["token"].is_null() && !s["token"]["initialized"].get<bool>()) slot = s["slot_id"];
  const RunResult r = init({"--label", "mod", "--slot",
                            fmt::format("pkcs11:slot-id={}?module-name=softhsm2", slot)},
                           {{"HSMCTL_MODULE", "<unset>"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "mod");
  expect_failure(init({"--label", "mod2", "--slot", "pkcs11:slot-id=1?module-name=softhsm2"},
                      {{"HSMCTL_MODULE", "/bin/true"}}),
                 2, "give only one of them");
}

}  // namespace
}  // namespace hsm::test
