// Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, as SLIP-0039 uses it.
// Constant time in both operands: never add a lookup table or a branch on a value here.
#pragma once

#include <cstdint>

namespace hsm::slip39::gf256 {

inline std::uint8_t add(std::uint8_t a, std::uint8_t b) noexcept {
  return a ^ b;
}
std::uint8_t mul(std::uint8_t a, std::uint8_t b) noexcept;
// a^254, the multiplicative inverse of a; inv(0) is 0.
std::uint8_t inv(std::uint8_t a) noexcept;

}  // namespace hsm::slip39::gf256
