// The rules a new password must meet, the same at user create, user passwd and in provisioning
// rows: no control characters (no secret source could deliver a line feed, and a terminal would
// act on the others), at least min_password_length characters ([users] in hsmctl.toml), and
// not the user's own name. Never says anything about the password beyond the rule it breaks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/secure/secret.h"

namespace hsm {

inline constexpr std::size_t kDefaultMinPasswordLength = 12;

// The rule `password` breaks as a phrase for "the password of user 'NAME' ..." ("is shorter
// than 12 characters"), or "" when it meets them all. Length counts UTF-8 characters.
std::string password_rule_broken(const Secret& password, std::string_view user,
                                 std::size_t min_length);

// Error(usage) "the new password of user 'NAME' <rule>; ..." when a rule is broken.
void check_new_password(const Secret& password, std::string_view user, std::size_t min_length);

}  // namespace hsm
