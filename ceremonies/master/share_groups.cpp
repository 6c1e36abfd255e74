// Two-level share sets: parsing and checking --group and --group-threshold.
#include "ceremonies/master/share_groups.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "ceremonies/master/master_init.h"
#include "core/error.h"

namespace hsm {

ShareGroupSpec parse_share_group(const std::string& spec) {
  const auto bad = [&](const std::string& why) {
    fail(Category::usage, fmt::format("--group '{}': {} (expected NAME:M:a,b,c, e.g. "
                                      "board:2:ann,bob,cy)", spec, why));
  };
  const auto c1 = spec.find(':');
  const auto c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  if (c2 == std::string::npos) bad("not three parts");
  ShareGroupSpec g;
  g.name = spec.substr(0, c1);
  const std::string m = spec.substr(c1 + 1, c2 - c1 - 1);
  if (m.empty() || m.size() > 2 || m.find_first_not_of("0123456789") != std::string::npos)
    bad("the member threshold is not a number from 1 to 16");
  g.threshold = std::stoi(m);
  std::string rest = spec.substr(c2 + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    const std::size_t end = std::min(rest.find(',', start), rest.size());
    g.custodians.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  if (g.custodians.size() == 1 && g.custodians.front().empty()) bad("no custodians");
  return g;
}

void validate_share_groups(const std::vector<ShareGroupSpec>& groups, int group_threshold,
                           bool allow_single_custodian) {
  if (groups.empty() || groups.size() > 16)
    fail(Category::usage, fmt::format("{} groups given; a share set has 1 to 16", groups.size()));
  if (group_threshold < 1 || group_threshold > static_cast<int>(groups.size()))
    fail(Category::usage, fmt::format("--group-threshold {} is not 1 to the {} groups",
                                      group_threshold, groups.size()));
  std::set<std::string> group_names, people;
  bool one_person_enough = false;
  for (const auto& g : groups) {
    if (!valid_custodian_name(g.name))
      fail(Category::usage, fmt::format("group name '{}' is not 1-32 of A-Z a-z 0-9 . _ - (not "
                                        "starting with '.' or '-')", g.name));
    if (!group_names.insert(g.name).second)
      fail(Category::usage, fmt::format("group '{}' is named twice", g.name));
    const int n = static_cast<int>(g.custodians.size());
    if (n > 16) fail(Category::usage, fmt::format("group '{}' has {} custodians; at most 16", g.name, n));
    if (g.threshold < 1 || g.threshold > n)
      fail(Category::usage, fmt::format("group '{}': threshold {} is not 1 to its {} custodians",
                                        g.name, g.threshold, n));
    if (g.threshold == 1 && n > 1)
      fail(Category::usage, fmt::format("group '{}': a threshold of 1 gives each of its {} "
                                        "custodians the whole group (SLIP-0039 allows 1 only for "
                                        "a group of one); use 2 or more", g.name, n));
    for (const auto& c : g.custodians) {
      if (!valid_custodian_name(c))
        fail(Category::usage, fmt::format("custodian name '{}' in group '{}' is not 1-32 of A-Z "
                                          "a-z 0-9 . _ - (not starting with '.' or '-')", c, g.name));
      if (!people.insert(c).second)
        fail(Category::usage, fmt::format("custodian '{}' is named twice", c));
    }
    if (g.threshold == 1) one_person_enough = one_person_enough || group_threshold == 1;
  }
  if (one_person_enough && !allow_single_custodian)
    fail(Category::usage, "with --group-threshold 1, a group of one lets one person restore the "
                          "master key; allowed only with --allow-single-custodian");
}

int fewest_shares(std::vector<int> member_thresholds, int group_threshold) {
  std::sort(member_thresholds.begin(), member_thresholds.end());
  int n = 0;
  for (int i = 0; i < group_threshold && i < static_cast<int>(member_thresholds.size()); ++i)
    n += member_thresholds[static_cast<std::size_t>(i)];
  return n;
}

}  // namespace hsm
