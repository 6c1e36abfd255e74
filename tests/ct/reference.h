// A plain GF(2^8) multiply (AES polynomial) for checking results on public values. It branches
// on its operands: never call it with secret (undefined) bytes.
#pragma once

#include <cstdint>

namespace hsm::ct_check {

inline std::uint8_t reference_mul(std::uint8_t a, std::uint8_t b) {
  unsigned r = 0, x = a;
  for (unsigned y = b; y != 0; y >>= 1) {
    if (y & 1) r ^= x;
    x <<= 1;
    if (x & 0x100) x ^= 0x11B;
  }
  return static_cast<std::uint8_t>(r);
}

}  // namespace hsm::ct_check
