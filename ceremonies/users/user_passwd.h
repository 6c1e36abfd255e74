// user passwd: the user's current factors open the outer layer; the same inner blob is sealed
// under a KEK from the new password and a new salt, as key version + 1, replacing the old outer
// layer in one transaction. The private key itself does not change; neither password is stored.
#pragma once

#include <cstdint>
#include <string>

#include "ceremonies/users/password_rules.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct UserPasswdOptions {
  std::string name;
  UserFactors factors;      // the current password (and code, once enrolled)
  SecretSource new_password;  // a prompt asks twice
  std::string kdf_profile;  // empty: keep the user's profile
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  std::size_t min_password_length = kDefaultMinPasswordLength;
  void validate() const;  // Error(usage): malformed name, unknown KDF profile
};

struct UserPasswdResult {
  std::int64_t key_version = 0;
  std::string kdf_profile;
};

UserPasswdResult user_passwd(Workspace& ws, const UserPasswdOptions& options);

}  // namespace hsm
