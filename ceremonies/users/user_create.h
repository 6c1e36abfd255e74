// user create: a signing key pair made on the token as session objects, its private key wrapped
// at once under MK-wrap (inner blob) and sealed under the user's password KEK (outer blob); the
// token keeps nothing. Never writes the password or an unsealed blob anywhere.
#pragma once

#include <cstdint>
#include <string>

#include "ceremonies/users/password_rules.h"
#include "ceremonies/workspace.h"
#include "core/kdf/argon2id.h"
#include "core/secure/secret_source.h"

namespace hsm {

struct UserCreateOptions {
  std::string name;
  std::string algorithm = "p256";  // p256, p384, rsa3072, ed25519
  std::string kdf_profile = "interactive";
  SecretSource password;  // the new password (a prompt asks twice)
  std::size_t min_password_length = kDefaultMinPasswordLength;
  // Error(usage) for a malformed name, an unknown algorithm or KDF profile.
  void validate() const;
};

struct UserCreated {
  std::string name, algorithm, fingerprint, kdf_profile;
  std::int64_t key_version = 1;
  std::uint64_t seq = 0;  // transcript seq of user.created
};

UserCreated user_create(Workspace& ws, const UserCreateOptions& options);

}  // namespace hsm
