// user sign: the user's factors open the outer layer, the inner blob is unwrapped under MK-wrap
// as a sensitive, non-extractable session key, the file is signed, the key destroyed. Every
// signature is a transcript event (file and signature digests) written before the signature
// file appears; the output never replaces an existing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "ceremonies/keys/file_signature.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct UserSignOptions {
  std::string name;
  std::filesystem::path in, out;
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  // Error(usage) for a malformed name or a missing --in/--out; Error(not_found) when --in does
  // not exist or --out already does.
  void validate() const;
};

struct UserSignature : FileSignature {  // seq: of user.signed
  std::string name;
};

UserSignature user_sign(Workspace& ws, const UserSignOptions& options);

}  // namespace hsm
