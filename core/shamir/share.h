// The SLIP-0039 share and encrypted master secret as values: a public header plus secret bytes.
// The header is public (it is spelled by a mnemonic's first words); the value never leaves a
// Secret.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/secure/secret.h"

namespace hsm::slip39 {

// Master secrets and share values: even length, 16 to 64 bytes (128 to 512 bits). SLIP-0039 sets
// no upper bound; 64 bytes (59 words) is the largest BIP-32 seed and bounds parsing work.
inline constexpr std::size_t kMinSecretBytes = 16;
inline constexpr std::size_t kMaxSecretBytes = 64;
// At most 16 groups, and at most 16 members per group (4-bit fields).
inline constexpr std::size_t kMaxShareCount = 16;

// Everything a mnemonic says besides its share value. Indices are the x values of the spec
// (0-based); thresholds and counts are the actual numbers (1..16), not the encoded n - 1.
// Error messages number groups and members from 1 (group_index + 1).
struct ShareHeader {
  std::uint16_t identifier = 0;  // 15 bits, random, the same for every share of a set
  bool extendable = true;        // when false, the identifier salts the passphrase encryption
  std::uint8_t iteration_exponent = 0;  // PBKDF2 runs 10000 << e iterations in all (0..15)
  std::uint8_t group_index = 0;
  std::uint8_t group_threshold = 1;
  std::uint8_t group_count = 1;
  std::uint8_t member_index = 0;
  std::uint8_t member_threshold = 1;

  bool operator==(const ShareHeader&) const = default;
};

// One custodian's share: what a mnemonic encodes.
struct Share {
  ShareHeader header;
  Secret value;
};

// The master secret after passphrase encryption (the EMS of the spec) with the parameters that
// decryption needs. This, not the master secret, is what the shares split.
struct EncryptedMasterSecret {
  std::uint16_t identifier = 0;
  bool extendable = true;
  std::uint8_t iteration_exponent = 0;
  Secret value;
};

}  // namespace hsm::slip39
