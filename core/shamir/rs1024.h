// The RS1024 checksum of SLIP-0039 (three 10-bit words over GF(1024)), computed with masks so
// that it is constant time in the words. Never correct errors: it only says valid or not.
#pragma once

#include <cstdint>

#include "core/shamir/wordlist.h"

namespace hsm::slip39 {

// Mask, all ones when the last three words are the checksum of the ones before them under the
// customization string ("shamir", or "shamir_extendable" when extendable).
std::uint32_t rs1024_valid(bool extendable, const WordIndices& words) noexcept;

// Overwrites the last three words with the checksum of the ones before them.
void rs1024_write_checksum(bool extendable, WordIndices& words) noexcept;

}  // namespace hsm::slip39
