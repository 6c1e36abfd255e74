// The backup ceremonies: create (quorum-gated, tagged under BK, written 0600 O_EXCL), verify
// (format and contents; with shares, the tag) and restore (quorum-gated, all or nothing).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"
#include "core/backup/format.h"

namespace hsm {

struct BackupCreateResult {
  std::string kcv, digest;  // digest: hex SHA-256 of the file
  std::vector<std::string> keys, not_backed_up;
  std::uint64_t transcript_seq = 0;
  std::string transcript_head;
};
BackupCreateResult backup_create(Workspace& ws, const std::filesystem::path& out, ShareIntake intake);

struct BackupVerifyResult {
  backup::Contents contents;
  bool authenticated = false;  // the tag was checked (shares given) and matched
  std::string digest;
};
// Without shares (intake.files empty and `with_shares` false) only the format is checked and
// nothing is recorded; with shares the tag is checked in a recorded ceremony.
BackupVerifyResult backup_verify(Workspace& ws, const std::filesystem::path& file,
                                 ShareIntake intake, bool with_shares);

struct BackupRestoreResult {
  std::string kcv;
  std::vector<std::string> restored, skipped;
  std::string keystore;  // "installed" (empty workspace) or "kept" (this workspace's own)
};
BackupRestoreResult backup_restore(Workspace& ws, const std::filesystem::path& file,
                                   ShareIntake intake, bool skip_existing);

// Public summary of backup contents (for --json and the text listing).
nlohmann::json describe_backup(const backup::Contents& c);

// Shared by restore and clone: installs the backup's keystore into the workspace when it is
// empty, keeps the workspace's own when it has the same master and every backed-up key, and
// refuses anything else. Returns "installed" or "kept".
std::string install_backup_keystore(Workspace& ws, const backup::Contents& c);

}  // namespace hsm
