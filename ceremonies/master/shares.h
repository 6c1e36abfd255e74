// Custodian shares in one place: per-share commitments, share files, and the intake every
// quorum-gated command uses (typed one custodian at a time, or --shares-file), which checks
// each share on entry against the recorded share set and recombines the master secret S.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/keystore/records.h"
#include "core/secure/secret.h"
#include "core/shamir/slip39.h"

namespace hsm {

// Public commitment to one share: hex SHA-256("hsmctl v1 share commitment" || identifier ||
// group index || member index || share value). Names a bad share; reveals nothing about S.
std::string share_commitment(const slip39::Share& share);

// Writes DIR/<custodian>.share (one mnemonic and a newline), 0600, refusing to overwrite;
// returns the file's identity (remove_created_file removes only that file).
CreatedFile write_share_file(const std::filesystem::path& dir, const std::string& custodian,
                      const Secret& mnemonic);
std::filesystem::path share_file_path(const std::filesystem::path& dir, const std::string& custodian);

// The shares in `files`, one mnemonic a non-empty line, in order. Error(not_found) for a file
// that cannot be opened, Error(general) for one readable by group or others.
std::vector<Secret> read_share_files(const std::vector<std::string>& files);

// Where shares come from, and what to say about each (for the transcript and the terminal).
struct ShareIntake {
  std::vector<std::string> files;  // --shares-file (one mnemonic a line); empty: typed
  // Reads one typed share; returns an empty Secret when the custodians stop. The terminal
  // intake (cmd/share_entry.h) returns only shares whose words and checksum are good.
  std::function<Secret(int index)> prompt;
  // Told about every share: accepted (custodian) or refused (reason). Public facts only.
  std::function<void(bool accepted, const std::string& what)> on_share;
  // Told the share set before the first share is asked for (an empty set when the set is learnt
  // from the shares): remote approval writes its request here (ceremonies/quorum/).
  std::function<void(const keystore::ShareSet& set)> on_gather;
};

// Gathers shares until the share set's threshold is met and returns S. Each share is checked
// on entry: checksum (integrity, names the word), same set (integrity), duplicate
// (integrity), commitment (integrity, names the custodian). Typed shares that fail are
// reported and asked again; shares from files fail at once. Fewer shares than the threshold:
// Error(quorum) saying how many more are needed.
Secret recover_master_secret(const keystore::ShareSet& set, const ShareIntake& intake);

// For a workspace that has no record of the share set (a restore on a new machine, or shares
// made by another SLIP-0039 implementation): learns the set from the first share
// (single-level sets only), checks the others against it, and fills `learnt` with the
// custodians whose shares were given ("member-N") and their commitments.
Secret adopt_share_set(const ShareIntake& intake, keystore::ShareSet& learnt);

// Checks one share against the set without recombining anything; returns the custodian.
const keystore::CustodianRecord& check_share(const keystore::ShareSet& set,
                                             const slip39::Share& share);

}  // namespace hsm
