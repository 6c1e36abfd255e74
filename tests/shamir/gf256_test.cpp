// GF(2^8) arithmetic against a plain schoolbook reference and the FIPS-197 examples.
#include "core/shamir/gf256.h"

#include <gtest/gtest.h>

namespace hsm::slip39 {
namespace {

// Carry-less multiply, then reduce by x^8 + x^4 + x^3 + x + 1, the obvious (branching) way.
std::uint8_t reference_mul(std::uint8_t a, std::uint8_t b) {
  unsigned product = 0;
  for (int i = 0; i < 8; ++i) {
    if (b & (1u << i)) product ^= unsigned{a} << i;
  }
  for (int bit = 14; bit >= 8; --bit) {
    if (product & (1u << bit)) product ^= 0x11Bu << (bit - 8);
  }
  return static_cast<std::uint8_t>(product);
}

TEST(Gf256, MultiplyMatchesReferenceForAllPairs) {
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_EQ(gf256::mul(a, b), reference_mul(a, b)) << a << " * " << b;
    }
  }
}

TEST(Gf256, MultiplyMatchesFips197Examples) {
  EXPECT_EQ(gf256::mul(0x57, 0x83), 0xC1);
  EXPECT_EQ(gf256::mul(0x57, 0x13), 0xFE);
  EXPECT_EQ(gf256::mul(0x57, 0x02), 0xAE);
}

TEST(Gf256, InverseTimesValueIsOneForEveryNonZeroValue) {
  for (unsigned a = 1; a < 256; ++a) {
    ASSERT_EQ(gf256::mul(a, gf256::inv(a)), 1) << a;
  }
}

TEST(Gf256, InverseIsUniqueAndInvolutive) {
  for (unsigned a = 1; a < 256; ++a) {
    for (unsigned b = 1; b < 256; ++b) {
      if (reference_mul(a, b) == 1) {
        ASSERT_EQ(gf256::inv(a), b);
      }
    }
    ASSERT_EQ(gf256::inv(gf256::inv(a)), a);
  }
  EXPECT_EQ(gf256::inv(0), 0);
  EXPECT_EQ(gf256::inv(0x53), 0xCA);  // FIPS-197 section 5.1.1 example
}

TEST(Gf256, AdditionIsXor) {
  EXPECT_EQ(gf256::add(0x57, 0x83), 0xD4);  // FIPS-197 section 4.1
}

}  // namespace
}  // namespace hsm::slip39
