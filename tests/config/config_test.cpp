// hsmctl.toml: known keys, strictness, no secrets.
#include <gtest/gtest.h>

#include "core/config/config.h"
#include "core/error.h"

namespace hsm {
namespace {

TEST(WorkspaceConfig, ReadsKnownKeys) {
  const auto c = parse_config("module = \"/m.so\"\ntoken = \"t\"\npin_source = \"env:P\"\n"
                              "[users]\nmax_auth_failures = 4\n", "hsmctl.toml");
  EXPECT_EQ(c.module, "/m.so");
  EXPECT_EQ(c.token, "t");
  EXPECT_EQ(c.pin_source, "env:P");
  EXPECT_EQ(c.max_auth_failures, 4);
}

TEST(WorkspaceConfig, RefusesUnknownKeysSecretsAndBadValues) {
  for (const char* bad : {"tokn = \"x\"", "pin = \"1234\"", "password = \"x\"", "token = 3",
                          "pin_source = \"1234\"", "[users]\nmax_auth_failures = 0",
                          "[users]\nother = 1", "users = 3", "token = \"unterminated"}) {
    SCOPED_TRACE(bad);
    try {
      parse_config(bad, "hsmctl.toml");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage);
      EXPECT_NE(std::string(e.what()).find("hsmctl.toml"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace hsm
