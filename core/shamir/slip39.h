// SLIP-0039 two-level secret sharing: split a master secret into groups of member shares, and
// combine a quorum of shares back. The one header to include; it never prints, stores or
// formats a secret. Mnemonic text: mnemonic.h. Passphrase encryption: feistel.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/secure/secret.h"
#include "core/shamir/feistel.h"
#include "core/shamir/mnemonic.h"
#include "core/shamir/shamir.h"
#include "core/shamir/share.h"

namespace hsm::slip39 {

// One group of custodians: any member_threshold of its member_count shares rebuild the group.
struct GroupSpec {
  std::uint8_t member_threshold;
  std::uint8_t member_count;
};

// GenerateShares: encrypts the master secret under the passphrase (random 15-bit identifier),
// splits it into groups.size() groups of which group_threshold are needed, and splits each
// group among its members. result[g][m] is member m of group g. Throws Error(usage) for
// impossible parameters (checked before any work): 1 <= group_threshold <= groups <= 16,
// 1 <= member_threshold <= member_count <= 16, member_threshold 1 only with member_count 1
// (as the spec requires), plus the checks of encrypt_master_secret. New sets should be
// extendable (the spec's SHOULD).
std::vector<std::vector<Share>> split_master_secret(
    const Secret& master_secret, const Secret& passphrase, std::uint8_t group_threshold,
    std::span<const GroupSpec> groups, bool extendable, std::uint8_t iteration_exponent,
    const RandomSource& random = system_random);

// Recombines shares into the encrypted master secret, without the passphrase. Throws
// Error(quorum) when shares or groups are missing (the message says how many more of which),
// Error(integrity) when shares do not belong together (identifier, extendable flag, iteration
// exponent, group threshold or count, length, member threshold within a group), repeat a
// member, or fail the digest check, and Error(usage) when more shares or groups are given than
// the thresholds take (SLIP-0039 requires exactly the threshold).
EncryptedMasterSecret recover_ems(std::span<const Share> shares);

// recover_ems followed by decrypt_ems. A wrong passphrase is not detected: it yields another
// master secret (the spec's plausible deniability).
Secret combine_shares(std::span<const Share> shares, const Secret& passphrase);

}  // namespace hsm::slip39
