// GenerateShares and the combining checks of SLIP-0039 over the two levels (groups, members).
// Decisions here use only public header fields and counts; never branch on a share value.
#include "core/shamir/slip39.h"

#include <array>
#include <map>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/shamir/ct.h"

namespace hsm::slip39 {
namespace {

using GroupMembers = std::map<std::uint8_t, std::vector<std::size_t>>;  // group index -> shares

std::string num(std::size_t n) {
  return std::to_string(n);
}
std::string group_name(std::uint8_t index) {
  return "group " + num(index + 1u);
}
std::string share_name(std::size_t position) {
  return "share " + num(position + 1);
}
std::string plural(std::size_t n, const std::string& noun) {
  return num(n) + " " + noun + (n == 1 ? "" : "s");
}

void check_scheme(std::uint8_t group_threshold, std::span<const GroupSpec> groups) {
  if (groups.empty() || groups.size() > kMaxShareCount) {
    fail(Category::usage, "A share set has 1 to 16 groups, not " + num(groups.size()) + ".");
  }
  if (group_threshold < 1 || group_threshold > groups.size()) {
    fail(Category::usage, "The group threshold must be between 1 and the number of groups (" +
                              num(groups.size()) + "), not " + num(group_threshold) + ".");
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const GroupSpec& spec = groups[g];
    const std::string name = "Group " + num(g + 1);
    if (spec.member_count < 1 || spec.member_count > kMaxShareCount) {
      fail(Category::usage,
           name + " must have 1 to 16 members, not " + num(spec.member_count) + ".");
    }
    if (spec.member_threshold < 1 || spec.member_threshold > spec.member_count) {
      fail(Category::usage, name + " needs a member threshold between 1 and its " +
                                num(spec.member_count) + " members, not " +
                                num(spec.member_threshold) + ".");
    }
    if (spec.member_threshold == 1 && spec.member_count > 1) {
      fail(Category::usage, name + " would give all " + num(spec.member_count) +
                                " members the same share (threshold 1); give it 1 member, or a "
                                "threshold of at least 2.");
    }
  }
}

std::vector<std::vector<Share>> split_ems(const EncryptedMasterSecret& ems,
                                          std::uint8_t group_threshold,
                                          std::span<const GroupSpec> groups,
                                          const RandomSource& random) {
  const auto group_count = static_cast<std::uint8_t>(groups.size());
  std::vector<Secret> group_values = split_secret(group_threshold, group_count, ems.value, random);
  std::vector<std::vector<Share>> result(group_count);
  for (std::uint8_t g = 0; g < group_count; ++g) {
    const GroupSpec& spec = groups[g];
    std::vector<Secret> members =
        split_secret(spec.member_threshold, spec.member_count, group_values[g], random);
    for (std::uint8_t m = 0; m < spec.member_count; ++m) {
      const ShareHeader header{.identifier = ems.identifier,
                               .extendable = ems.extendable,
                               .iteration_exponent = ems.iteration_exponent,
                               .group_index = g,
                               .group_threshold = group_threshold,
                               .group_count = group_count,
                               .member_index = m,
                               .member_threshold = spec.member_threshold};
      result[g].push_back(Share{header, std::move(members[m])});
    }
  }
  return result;
}

// Every share carries the same set-wide parameters as the first one, and a sane header.
void check_same_set(std::span<const Share> shares) {
  const ShareHeader& first = shares.front().header;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    const ShareHeader& h = shares[i].header;
    const auto differs = [&](const std::string& field, std::size_t mine, std::size_t theirs) {
      if (mine == theirs) return;
      fail(Category::integrity, "Share " + num(i + 1) + " has " + field + " " + num(mine) +
                                    " but share 1 has " + num(theirs) +
                                    ", so they are not from the same share set; leave out the "
                                    "share that does not belong.");
    };
    differs("identifier", h.identifier, first.identifier);
    differs("extendable flag", h.extendable, first.extendable);
    differs("iteration exponent", h.iteration_exponent, first.iteration_exponent);
    differs("group threshold", h.group_threshold, first.group_threshold);
    differs("group count", h.group_count, first.group_count);
    differs("a value length of", shares[i].value.size(), shares.front().value.size());
    const std::size_t n = shares[i].value.size();
    if (h.group_threshold < 1 || h.group_threshold > h.group_count ||
        h.group_index >= h.group_count || h.member_threshold < 1 || n < kMinSecretBytes ||
        n > kMaxSecretBytes || n % 2 != 0) {
      fail(Category::integrity, share_name(i) +
                                    " has an impossible header or length, so it is "
                                    "not a valid share.");
    }
  }
}

// Within a group: one member threshold, and each member index at most once.
void check_groups(std::span<const Share> shares, const GroupMembers& groups) {
  for (const auto& [index, members] : groups) {
    const std::size_t first = members.front();
    for (std::size_t k = 1; k < members.size(); ++k) {
      const ShareHeader& h = shares[members[k]].header;
      if (h.member_threshold != shares[first].header.member_threshold) {
        fail(Category::integrity, "Share " + num(members[k] + 1) + " says " + group_name(index) +
                                      " needs " + plural(h.member_threshold, "share") + " but " +
                                      share_name(first) + " says " +
                                      num(shares[first].header.member_threshold) +
                                      ", so they are not from the same share set.");
      }
      for (std::size_t j = 0; j < k; ++j) {
        if (shares[members[j]].header.member_index == h.member_index) {
          fail(Category::integrity, "Shares " + num(members[j] + 1) + " and " +
                                        num(members[k] + 1) + " are both member " +
                                        num(h.member_index + 1u) + " of " + group_name(index) +
                                        "; give each custodian's share once.");
        }
      }
    }
  }
}

// SLIP-0039 needs exactly group_threshold groups, each with exactly its member threshold.
void check_quorum(std::span<const Share> shares, const GroupMembers& groups) {
  const std::size_t group_threshold = shares.front().header.group_threshold;
  std::vector<std::string> incomplete;
  std::vector<std::string> surplus;
  for (const auto& [index, members] : groups) {
    const std::size_t needed = shares[members.front()].header.member_threshold;
    if (members.size() < needed) {
      incomplete.push_back(plural(needed - members.size(), "more share") + " of " +
                           group_name(index));
    } else if (members.size() > needed) {
      surplus.push_back(group_name(index) + " needs " + num(needed) + " but has " +
                        num(members.size()));
    }
  }
  const auto joined = [](const std::vector<std::string>& parts) {
    std::string text;
    for (std::size_t i = 0; i < parts.size(); ++i) text += (i == 0 ? "" : ", ") + parts[i];
    return text;
  };
  if (groups.size() > group_threshold) {
    fail(Category::usage,
         "Shares from " + num(groups.size()) + " groups were given, but the group threshold is " +
             num(group_threshold) + "; leave out " +
             plural(groups.size() - group_threshold, "group") +
             (incomplete.empty() ? "" : " (incomplete: " + joined(incomplete) + " missing)") + ".");
  }
  if (groups.size() < group_threshold) {
    incomplete.push_back("shares from " + plural(group_threshold - groups.size(), "more group"));
  }
  if (!incomplete.empty()) {
    fail(Category::quorum,
         "Not enough shares to recover the secret; still needed: " + joined(incomplete) + ".");
  }
  if (!surplus.empty()) {
    fail(Category::usage, "More shares were given than needed (" + joined(surplus) +
                              "); leave out the extra shares.");
  }
}

}  // namespace

std::vector<std::vector<Share>> split_master_secret(
    const Secret& master_secret, const Secret& passphrase, std::uint8_t group_threshold,
    std::span<const GroupSpec> groups, bool extendable, std::uint8_t iteration_exponent,
    const RandomSource& random) {
  check_scheme(group_threshold, groups);
  std::array<std::uint8_t, 2> id_bytes{};
  random(id_bytes);
  // The identifier is public: it is spelled by the first word of every share.
  const auto identifier =
      ct::declassify(static_cast<std::uint16_t>(((id_bytes[0] << 8) | id_bytes[1]) & 0x7FFF));
  const EncryptedMasterSecret ems =
      encrypt_master_secret(master_secret, passphrase, identifier, extendable, iteration_exponent);
  return split_ems(ems, group_threshold, groups, random);
}

EncryptedMasterSecret recover_ems(std::span<const Share> shares) {
  if (shares.empty()) {
    fail(Category::quorum, "No shares were given; enter the shares of a quorum of custodians.");
  }
  check_same_set(shares);
  GroupMembers groups;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    groups[shares[i].header.group_index].push_back(i);
  }
  check_groups(shares, groups);
  check_quorum(shares, groups);

  std::vector<Secret> group_values;
  group_values.reserve(groups.size());
  std::vector<SharePoint> group_points;
  for (const auto& [index, members] : groups) {
    std::vector<SharePoint> points;
    for (std::size_t i : members) {
      points.push_back({shares[i].header.member_index, shares[i].value.bytes()});
    }
    group_values.push_back(recover_secret(shares[members.front()].header.member_threshold, points,
                                          "the shares of " + group_name(index)));
    group_points.push_back({index, group_values.back().bytes()});
  }
  const ShareHeader& first = shares.front().header;
  return {first.identifier, first.extendable, first.iteration_exponent,
          recover_secret(first.group_threshold, group_points, "the groups")};
}

Secret combine_shares(std::span<const Share> shares, const Secret& passphrase) {
  return decrypt_ems(recover_ems(shares), passphrase);
}

}  // namespace hsm::slip39
