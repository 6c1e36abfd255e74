// The public commitments file of a share set: everything a custodian needs to check a share
// alone, with no token, PIN or workspace (`master verify-share --commitments FILE`). It holds
// what the transcript already records about the set, and never a share or the master secret.
#pragma once

#include <filesystem>
#include <string>

#include "core/keystore/records.h"

namespace hsm {

inline constexpr const char* kCommitmentsFormat = "hsmctl-share-commitments-v1";

struct CommitmentsFile {
  std::string name;    // share-set-<identifier>-<first 8 hex digits of sha256>.json
  std::string text;    // the JSON document, sorted keys, two-space indent, final newline
  std::string sha256;  // hex SHA-256 of text, as the transcript records it
};

// The file for `set` (custodians numbered from 1 as in the transcript).
CommitmentsFile commitments_file(const keystore::ShareSet& set);

// Reads a commitments file back into a share set to check shares against. Error(not_found) for
// a missing file, Error(usage) for anything that is not a well-formed file of this format.
keystore::ShareSet read_commitments_file(const std::filesystem::path& path);

}  // namespace hsm
