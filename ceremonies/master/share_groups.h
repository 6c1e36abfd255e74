// Two-level share sets (SLIP-0039 groups, `master init --group NAME:M:a,b,c --group-threshold
// G`): the groups as the command line gives them, and their checks.
#pragma once

#include <string>
#include <vector>

namespace hsm {

// One group: its name, the shares of its members needed, and its custodians.
struct ShareGroupSpec {
  std::string name;
  int threshold = 0;
  std::vector<std::string> custodians;
};

// "NAME:M:a,b,c" (--group); Error(usage) naming what is wrong.
ShareGroupSpec parse_share_group(const std::string& spec);

// Error(usage) unless: 1 to 16 groups, 1 <= group_threshold <= groups, distinct valid group
// names, each group 1 to 16 custodians with 1 <= M <= N and M = 1 only for a group of one,
// every custodian named once across the groups, and one person alone never enough (a group of
// one in a set whose group threshold is 1) unless `allow_single_custodian`.
void validate_share_groups(const std::vector<ShareGroupSpec>& groups, int group_threshold,
                           bool allow_single_custodian);

// The fewest shares that recombine the secret: the sum of the `group_threshold` smallest
// member thresholds (a single-level set of threshold M: one group, M).
int fewest_shares(std::vector<int> member_thresholds, int group_threshold);

}  // namespace hsm
