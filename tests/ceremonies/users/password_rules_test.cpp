// The new-password rules: control characters, minimum length in characters, the user's name.
#include "ceremonies/users/password_rules.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace hsm {
namespace {

std::string broken(std::string_view pw, std::string_view user = "alice", std::size_t min = 12) {
  return password_rule_broken(Secret::copy_of(pw), user, min);
}

TEST(PasswordRules, AcceptsLongPasswordsWithoutControls) {
  EXPECT_EQ(broken("correct horse battery"), "");
  EXPECT_EQ(broken("twelve chars"), "");
  EXPECT_EQ(broken("ünïcödé-äöü", "alice", 11), "");  // 11 characters, 19 bytes
}

TEST(PasswordRules, RefusesControlCharacters) {
  for (std::string_view pw : {std::string_view("first line\nsecond"), std::string_view("tab\there long"),
                              std::string_view("escape \x1b[8m long"), std::string_view("delete \x7f long"),
                              std::string_view("c1 csi \xc2\x9b long"),
                              std::string_view("nul \0 long enough", 17)})
    EXPECT_NE(broken(pw).find("control character"), std::string::npos) << pw;
}

TEST(PasswordRules, CountsCharactersNotBytes) {
  EXPECT_NE(broken("ünïcödé").find("shorter than 12"), std::string::npos);  // 7 chars, 11 bytes
  EXPECT_NE(broken("abc").find("shorter than 12 characters"), std::string::npos);
  EXPECT_EQ(broken("abcdefgh", "alice", 8), "");
}

TEST(PasswordRules, RefusesTheUsersOwnName) {
  EXPECT_EQ(broken("CarolineCarol", "carolinecarol"), "is the user's own name");
  EXPECT_EQ(broken("carolinecarol!", "carolinecarol"), "");
}

TEST(PasswordRules, CheckThrowsUsageWithTheRule) {
  try {
    check_new_password(Secret::copy_of(std::string_view("abc")), "alice", 12);
    FAIL() << "a short password was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::usage);
    EXPECT_NE(std::string(e.what()).find("at least 12 characters"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("abc"), std::string::npos) << "the password is not quoted";
  }
}

}  // namespace
}  // namespace hsm
