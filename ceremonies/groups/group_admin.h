// The admin's view of groups: list, show, export-public (keystore only, public data). Nothing
// here opens a key or changes anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ceremonies/workspace.h"

namespace hsm {

struct GroupSummary {
  std::string name, algorithm, fingerprint, created;
  std::int64_t key_version = 0;
  std::vector<std::string> members;
};

std::vector<GroupSummary> group_list(Workspace& ws);
// Error(not_found) for an unknown group (also below).
GroupSummary group_show(Workspace& ws, const std::string& name);
// The group's current public key as a PEM SubjectPublicKeyInfo.
std::string group_public_pem(Workspace& ws, const std::string& name);

}  // namespace hsm
