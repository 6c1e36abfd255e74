// token list | info | objects | init against real SoftHSM tokens, and the global failure
// contract (usage errors, modules, token selection, PINs, secret sources).
#include <fcntl.h>

#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

using TokenCommand = HsmTest;

TEST_F(TokenCommand, ListShowsInitialisedTokenAsJson) {
  const RunResult r = hsmctl({"token", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = r.json();
  bool found = false;
  for (const auto& slot : doc["slots"])
    if (!slot["token"].is_null() && slot["token"]["label"] == "test") {
      found = true;
      EXPECT_TRUE(slot["token"]["initialized"].get<bool>());
    }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(TokenCommand, InfoSelectsTokenByLabelAndByUri) {
  const RunResult by_label = hsmctl({"token", "info", "--json"});
  ASSERT_EQ(by_label.code, 0) << by_label.err;
  const std::string serial = by_label.json()["serial"];
  const RunResult by_uri = hsmctl({"--token", "pkcs11:serial=" + serial + ";token=te%73t",
                                   "token", "info", "--json"});
  ASSERT_EQ(by_uri.code, 0) << by_uri.err;
  EXPECT_EQ(by_uri.json()["label"], "test");
}

TEST_F(TokenCommand, TokenOptionAfterSubcommandIsAccepted) {
  const RunResult r = hsmctl({"token", "info", "--token", "test", "--json"}, {{"HSMCTL_TOKEN", "<unset>"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "test");
}

TEST_F(TokenCommand, TokenFromWorkspaceConfigFile) {
  std::ofstream(ws_ / "hsmctl.toml") << "token = \"test\"\n";
  const RunResult r = hsmctl({"token", "info", "--json"}, {{"HSMCTL_TOKEN", "<unset>"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "test");
}

TEST_F(TokenCommand, ConfigFileWithUnknownKeyIsUsageError) {
  std::ofstream(ws_ / "hsmctl.toml") << "tokn = \"test\"\n";
  expect_failure(hsmctl({"token", "info"}), 2, "unknown key 'tokn'");
}

TEST_F(TokenCommand, ConfigFileMayNotHoldAPin) {
  std::ofstream(ws_ / "hsmctl.toml") << "pin = \"1234\"\n";
  expect_failure(hsmctl({"token", "info"}), 2, "secrets never go in hsmctl.toml");
}

TEST_F(TokenCommand, UnknownTokenExits7AndListsLabels) {
  expect_failure(hsmctl({"--token", "nope", "token", "info"}), 7, "tokens present: 'test'");
}

TEST_F(TokenCommand, ObjectsLogsInAndListsSecurityAttributes) {
  const RunResult r = hsmctl({"token", "objects", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["token"], "test");
  EXPECT_TRUE(r.json()["objects"].is_array());
}

TEST_F(TokenCommand, WrongPinExits3AndSaysSo) {
  expect_failure(hsmctl({"token", "objects"}, {{"HSMCTL_TEST_PIN", "0000-wrong"}}), 3,
                 "wrong PIN for token 'test'");
}

TEST_F(TokenCommand, InitCreatesTokenWhosePinWorks) {
  const RunResult r = hsmctl({"token", "init", "--label", "second", "--so-pin-source",
                              "env:SO", "--json"},
                             {{"SO", "so-secret-99"}, {"HSMCTL_TEST_PIN", "user-secret-99"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "second");
  EXPECT_TRUE(r.json()["user_pin_initialized"].get<bool>());
  const RunResult login = hsmctl({"--token", "second", "token", "objects"},
                                 {{"HSMCTL_TEST_PIN", "user-secret-99"}});
  EXPECT_EQ(login.code, 0) << login.err;
}

TEST_F(TokenCommand, InitRefusesExistingLabel) {
  expect_failure(hsmctl({"token", "init", "--label", "test", "--so-pin-source", "env:SO"},
                        {{"SO", "so-secret-99"}}),
                 7, "already exists");
}

TEST_F(TokenCommand, InitWithoutTerminalSaysHowToGiveThePin) {
  expect_failure(hsmctl({"token", "init", "--label", "x"}), 2, "no terminal");
}

TEST_F(TokenCommand, EveryCommandHasHelpWithExample) {
  for (const auto& cmd : {"list", "info", "objects", "init"}) {
    const RunResult r = hsmctl({"token", cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Example:"), std::string::npos) << cmd << ":\n" << r.out;
  }
}

TEST_F(TokenCommand, VersionPrintsVersion) {
  const RunResult r = hsmctl({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("hsmctl " HSMCTL_VERSION), std::string::npos) << r.out;
}

struct BadInput {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  int code;
  std::string needle;
};

// The foundation's failure contract in one table.
TEST_F(TokenCommand, BadInputGetsOneClearLineAndTheDocumentedExitCode) {
  const auto world = write_file("pin-world", std::string(kPin) + "\n", 0644);
  const auto good = write_file("pin-good", std::string(kPin) + "\n", 0600);
  const std::vector<BadInput> table = {
      {"unknown subcommand", {"frobnicate"}, {}, 2, "frobnicate"},
      {"unknown option", {"token", "list", "--frob"}, {}, 2, "--frob"},
      {"missing subcommand", {"token"}, {}, 2, "needs a command: list, info"},
      {"module does not exist", {"--module", "/nonexistent/p11.so", "token", "list"}, {}, 6,
       "/nonexistent/p11.so"},
      {"module is not PKCS#11", {"--module", "/bin/true", "token", "list"}, {}, 6, "/bin/true"},
      {"module from env", {"token", "list"}, {{"HSMCTL_MODULE", "/nonexistent/m.so"}}, 6,
       "/nonexistent/m.so"},
      {"token not found", {"--token", "ghost", "token", "info"}, {}, 7, "'ghost' not found"},
      {"bad URI", {"--token", "pkcs11:bogus=1", "token", "info"}, {}, 2, "unknown attribute"},
      {"URI with pin-value", {"--token", "pkcs11:token=test?pin-value=1234", "token", "info"},
       {}, 2, "pin-value"},
      {"URI with an object", {"--token", "pkcs11:token=test;object=k", "token", "info"}, {}, 2,
       "names an object ('object')"},
      {"URI with an id", {"--token", "pkcs11:token=test;id=%01", "token", "info"}, {}, 2,
       "names an object ('id')"},
      {"URI with a type", {"--token", "pkcs11:token=test;type=private", "token", "info"}, {}, 2,
       "names an object ('type')"},
      {"URI with a pin-source", {"--token", "pkcs11:token=test?pin-source=file:/p", "token",
       "info"}, {}, 2, "give the PIN with --pin-source"},
      {"URI with a vendor attribute", {"--token", "pkcs11:token=test;x-slot=2", "token", "info"},
       {}, 2, "vendor attribute 'x-slot'"},
      {"URI library-version not M.N", {"--token", "pkcs11:library-version=2.6.1", "token",
       "info"}, {}, 2, "library-version '2.6.1'"},
      {"URI with a relative module-path", {"--token", "pkcs11:token=test?module-path=m.so",
       "token", "info"}, {}, 2, "not an absolute path"},
      {"URI module and --module differ", {"--module", "/bin/true", "--token",
       "pkcs11:token=test?module-name=softhsm2", "token", "info"}, {}, 2,
       "give only one of them"},
      {"URI module-name unknown", {"--token", "pkcs11:token=test?module-name=nope-p11",
       "token", "info"}, {{"HSMCTL_MODULE", "<unset>"}}, 6, "no PKCS#11 module named 'nope-p11'"},
      {"URI library does not match", {"--token", "pkcs11:library-manufacturer=Nobody", "token",
       "info"}, {}, 7, "library-* attributes do not match"},
      {"wrong PIN", {"token", "objects"}, {{"HSMCTL_TEST_PIN", "nope-nope"}}, 3, "wrong PIN"},
      {"PIN in argv", {"--pin-source", "1234", "token", "objects"}, {}, 2, "never accepted"},
      {"missing env var", {"token", "objects"}, {{"HSMCTL_PIN_SOURCE", "env:NOPE_NOT_SET"}}, 1,
       "NOPE_NOT_SET"},
      {"missing file", {"--pin-source", "file:/nonexistent/pin", "token", "objects"}, {}, 1,
       "/nonexistent/pin"},
      {"world-readable file", {"--pin-source", "file:" + world.string(), "token", "objects"}, {},
       1, "readable by group or others"},
      {"fd not open", {"--pin-source", "fd:77", "token", "objects"}, {}, 1, "not open"},
      {"fd not a number", {"--pin-source", "fd:x", "token", "objects"}, {}, 2, "fd:x"},
      {"init label too long", {"token", "init", "--label", std::string(33, 'x')}, {}, 2,
       "longer than 32"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.name);
    expect_failure(hsmctl(row.args, row.env), row.code, row.needle);
  }
  // And the good file source works, so the table is not passing for a wrong reason.
  EXPECT_EQ(hsmctl({"--pin-source", "file:" + good.string(), "token", "objects"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
