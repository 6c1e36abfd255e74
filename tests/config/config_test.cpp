// hsmctl.toml: known keys, strictness, no secrets.
#include <gtest/gtest.h>

#include "core/config/config.h"
#include "core/error.h"

namespace hsm {
namespace {

TEST(WorkspaceConfig, ReadsKnownKeys) {
  const auto c = parse_config("module = \"/m.so\"\ntoken = \"t\"\npin_source = \"env:P\"\n"
                              "[users]\nmax_auth_failures = 4\nmin_password_length = 16\n",
                              "hsmctl.toml");
  EXPECT_EQ(c.module, "/m.so");
  EXPECT_EQ(c.token, "t");
  EXPECT_EQ(c.pin_source, "env:P");
  EXPECT_EQ(c.max_auth_failures, 4);
  EXPECT_EQ(c.min_password_length, 16);
  EXPECT_EQ(parse_config("", "hsmctl.toml").min_password_length, std::nullopt);
}

TEST(WorkspaceConfig, RefusesUnknownKeysSecretsAndBadValues) {
  for (const char* bad : {"tokn = \"x\"", "pin = \"1234\"", "password = \"x\"", "token = 3",
                          "pin_source = \"1234\"", "[users]\nmax_auth_failures = 0",
                          "[users]\nother = 1", "users = 3", "token = \"unterminated",
                          "[users]\nmin_password_length = 4", "[users]\nmin_password_length = \"12\"",
                          "min_password_length = 12"}) {
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
