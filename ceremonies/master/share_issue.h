// Issuing a share set (master init and master reshare): split S among named custodians,
// compute the commitments, and hand each custodian their share (file or terminal).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/master/master_init.h"
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

// Writes the share files (all or none) or shows each share on the console.
void hand_out(const IssuedShares& issued, const std::vector<std::string>& names,
              const std::optional<std::filesystem::path>& shares_out, CustodianConsole* console);
// Removes share files written by hand_out (after a later failure).
void take_back(const std::vector<std::string>& names,
               const std::optional<std::filesystem::path>& shares_out) noexcept;

}  // namespace hsm
