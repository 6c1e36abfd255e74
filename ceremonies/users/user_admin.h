// The admin's view of user keys: list, show, export-public (keystore only, public data), and
// the recorded changes that need no password: delete and unlock. Nothing here opens a key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ceremonies/workspace.h"

namespace hsm {

// Public facts about one user.
struct UserSummary {
  std::string name, algorithm, fingerprint, kdf_profile, created, rotated;
  std::int64_t key_version = 0, failures = 0;
  bool otp_enrolled = false, locked = false;
};

std::vector<UserSummary> user_list(Workspace& ws);
// Error(not_found) for an unknown user (also for the two below).
UserSummary user_show(Workspace& ws, const std::string& name);
// The user's public key as a PEM SubjectPublicKeyInfo.
std::string user_public_pem(Workspace& ws, const std::string& name);

// Deletes the user's row, the only copy of their key (recorded as user.deleted).
void user_delete(Workspace& ws, const std::string& name);
// Clears the lock and the failure count (recorded as user.unlocked). Returns the failure count
// that was cleared.
std::int64_t user_unlock(Workspace& ws, const std::string& name);

}  // namespace hsm
