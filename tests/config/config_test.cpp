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

TEST(WorkspaceConfig, ReadsTheServeTable) {
  const auto c = parse_config("[serve]\nlisten = \"0.0.0.0:8443\"\ntls_cert = \"srv.crt\"\n"
                              "workers = 4\nuser_rate = 2.5\nclient_rate = 100\n"
                              "access_log = \"off\"\n", "hsmctl.toml");
  EXPECT_EQ(c.serve.listen, "0.0.0.0:8443");
  EXPECT_EQ(c.serve.tls_cert, "srv.crt");
  EXPECT_EQ(c.serve.workers, 4);
  EXPECT_EQ(c.serve.user_rate, 2.5);
  EXPECT_EQ(c.serve.client_rate, 100.0);
  EXPECT_EQ(c.serve.access_log, "off");
  EXPECT_EQ(c.serve.queue, std::nullopt);
  for (const char* bad : {"[serve]\nlisten = 8443", "[serve]\nworkers = \"2\"",
                          "[serve]\nworkers = 2.5", "[serve]\nuser_rate = \"fast\"",
                          "[serve]\npin = \"1234\"", "serve = 1", "[serve]\nworkers = -1"}) {
    SCOPED_TRACE(bad);
    try {
      parse_config(bad, "hsmctl.toml");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage);
      EXPECT_NE(std::string(e.what()).find("hsmctl.toml:"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace hsm
