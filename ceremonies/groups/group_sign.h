// group sign: a member opens the group key with their own factors (password, and a one-time
// code once enrolled), the key is unwrapped under MK-wrap as a sensitive, non-extractable session
// key, the file is signed, the signature checked against the group's public key, the key
// destroyed. Recorded (file and signature digests) before the signature file appears; never
// overwrites an existing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "ceremonies/keys/file_signature.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct GroupSignOptions {
  std::string group, as;
  std::filesystem::path in, out;
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  // Error(usage) for malformed names or a missing --in/--out; Error(not_found) when --in does
  // not exist or --out already does.
  void validate() const;
};

struct GroupSignature : FileSignature {  // seq: of group.signed
  std::string group, as;
};

GroupSignature group_sign(Workspace& ws, const GroupSignOptions& options);

}  // namespace hsm
