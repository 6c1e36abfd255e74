// New-password rules: control characters, minimum length, the user's own name.
#include "ceremonies/users/password_rules.h"

#include <fmt/format.h>

#include <cstdint>

#include "core/error.h"

namespace hsm {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string password_rule_broken(const Secret& password, std::string_view user,
                                 std::size_t min_length) {
  const std::uint8_t* p = password.data();
  const std::size_t n = password.size();
  std::size_t characters = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t c = p[i];
    // C0 controls and DEL; C1 controls are U+0080..U+009F, encoded as C2 80..C2 9F.
    if (c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F))
      return "contains a control character (a line feed, tab or escape, for example), which no "
             "secret source could give back later";
    if ((c & 0xC0) != 0x80) ++characters;  // UTF-8 continuation bytes are not characters
  }
  if (characters < min_length)
    return fmt::format("is shorter than {} characters (the minimum, min_password_length in the "
                       "[users] table of hsmctl.toml)", min_length);
  if (equal_ignoring_case(password.chars(), user)) return "is the user's own name";
  return {};
}

void check_new_password(const Secret& password, std::string_view user, std::size_t min_length) {
  const std::string rule = password_rule_broken(password, user, min_length);
  if (!rule.empty())
    fail(Category::usage, fmt::format("the new password of user '{}' {}; choose another: at least "
                                      "{} characters, no control characters, not the user's name",
                                      user, rule, min_length));
}

}  // namespace hsm
