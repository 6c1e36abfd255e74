// The master ceremonies that need custodians after init: restore (bring S back with a quorum
// and import the derived keys on a token), verify-share (one custodian checks their share
// against the public commitments, with no token or PIN; nothing is recombined), reshare (a new share set of the same S), and status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/master/master_init.h"
#include "ceremonies/master/shares.h"

namespace hsm {

struct RestoreResult {
  std::string kcv;
  bool kcv_checked = false;  // false on an empty workspace: compare with the paper record
  bool transcript_key_restored = false;
  bool adopted = false;  // the workspace had no record: the share set was learnt from the shares
};
RestoreResult master_restore(Workspace& ws, ShareIntake intake);

struct ShareCheck {
  std::string custodian;
  int member_index = 0, threshold = 0, count = 0, identifier = 0;  // within the share's group
  std::string group;  // "" for a single-level set
  int group_threshold = 1, groups = 1;
};
// verify-share: checks one share (checksum, share set, commitment) against `set`, with no
// token, PIN or transcript; Error(integrity) when it does not match. Nothing is recombined.
ShareCheck verify_share(const keystore::ShareSet& set, const Secret& mnemonic);
// The current share set of the workspace in `dir`, read from its keystore alone (no lock, no
// token). Error(not_found) when `dir` is not a workspace or has no master.
keystore::ShareSet workspace_share_set(const std::filesystem::path& dir);

// The new share set (the token's keys and their derivation do not change).
struct ReshareOptions : ShareSetPlan {};
MasterInitResult master_reshare(Workspace& ws, const ReshareOptions& options, ShareIntake intake,
                                CustodianConsole* console);

// Token and keystore view of the master key (no login needed for the keystore part).
nlohmann::json master_status(Workspace& ws);

}  // namespace hsm
