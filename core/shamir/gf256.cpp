// GF(2^8) multiply and inverse, bit-serial with masks so that timing and memory access never
// depend on the operands. Never replace these with log/exp tables.
#include "core/shamir/gf256.h"

namespace hsm::slip39::gf256 {

std::uint8_t mul(std::uint8_t a, std::uint8_t b) noexcept {
  std::uint32_t x = a;
  std::uint32_t y = b;
  std::uint32_t r = 0;
  for (int i = 0; i < 8; ++i) {
    r ^= x & (0u - (y & 1u));
    y >>= 1;
    x <<= 1;
    x ^= 0x11Bu & (0u - (x >> 8));  // reduce by the AES polynomial when x overflowed
  }
  return static_cast<std::uint8_t>(r);
}

std::uint8_t inv(std::uint8_t a) noexcept {
  // 254 = 2 + 4 + ... + 128: multiply the squares a^2, a^4, ..., a^128 together.
  std::uint8_t square = a;
  std::uint8_t result = 1;
  for (int i = 0; i < 7; ++i) {
    square = mul(square, square);
    result = mul(result, square);
  }
  return result;
}

}  // namespace hsm::slip39::gf256
