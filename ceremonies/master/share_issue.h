// Issuing a share set (master init and master reshare): split S among named custodians,
// compute the commitments, and hand each custodian their share (terminal, file, printed card or
// OpenPGP message: share_delivery.h).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/master/share_delivery.h"

#include "ceremonies/master/master_init.h"
#include "core/files.h"
#include "core/keystore/records.h"
#include "core/shamir/slip39.h"

namespace hsm {

struct IssuedShares {
  std::vector<slip39::Share> shares;  // in custodian order
  keystore::ShareSet set;             // identifier, thresholds, custodians with commitments
  nlohmann::json custodians;          // [{name, member_index, commitment}] for the transcript
};

IssuedShares split_for_custodians(const Secret& master, int threshold,
                                  const std::vector<std::string>& names);

// A two-level split: `group_threshold` of the groups are needed, each with its own threshold
// of members. Shares come back in the order of the groups and, within each, of its custodians.
IssuedShares split_for_groups(const Secret& master, int group_threshold,
                              const std::vector<ShareGroupSpec>& groups);

// What hand_out has given out so far: the custodians whose share was written or shown, and
// the files this run created (by device and inode).
struct HandedOut {
  std::vector<std::string> given;  // a shown share counts from just before it is shown
  std::vector<CreatedFile> files;
  nlohmann::json delivery = nlohmann::json::object();  // custodian -> how (for the transcript)
  std::map<std::string, std::filesystem::path> paths;   // custodian -> the file written
  std::function<void()> on_give;   // told after each addition to `given`
};

// Writes each custodian's file (all or none) or shows their share on the console, as
// `delivery` says, noting each one in `done` as it goes. On failure (or interrupt) it takes
// back the files it wrote and rethrows.
void hand_out(const IssuedShares& issued, const std::vector<std::string>& names,
              const ShareDelivery& delivery, const CardFacts& facts, CustodianConsole* console,
              HandedOut& done);
// Removes the share files hand_out created (after a later failure): only those files, and
// only while their path still names the file this run created, never another run's.
void take_back(HandedOut& done) noexcept;

}  // namespace hsm
