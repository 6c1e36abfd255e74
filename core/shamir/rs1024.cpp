// RS1024 polymod from the SLIP-0039 "Checksum" section. The generator is applied through masks,
// never through a branch on a checksum bit.
#include "core/shamir/rs1024.h"

#include <array>
#include <string_view>

#include "core/shamir/ct.h"

namespace hsm::slip39 {
namespace {

constexpr std::array<std::uint32_t, 10> kGenerator = {
    0xE0E040,   0x1C1C080,  0x3838100,  0x7070200,  0xE0E0009,
    0x1C0C2412, 0x38086C24, 0x3090FC48, 0x21B1F890, 0x3F3F120,
};

std::uint32_t step(std::uint32_t chk, std::uint32_t value) noexcept {
  const std::uint32_t top = chk >> 20;
  chk = ((chk & 0xFFFFF) << 10) ^ value;
  for (std::uint32_t i = 0; i < kGenerator.size(); ++i) {
    chk ^= kGenerator[i] & (0u - ((top >> i) & 1u));
  }
  return chk;
}

// Polymod over the customization string and the first `count` words.
std::uint32_t polymod(bool extendable, const WordIndices& words, std::size_t count) noexcept {
  const std::string_view customization = extendable ? "shamir_extendable" : "shamir";
  std::uint32_t chk = 1;
  for (char c : customization) chk = step(chk, static_cast<unsigned char>(c));
  for (std::size_t i = 0; i < count; ++i) chk = step(chk, words.get(i));
  return chk;
}

}  // namespace

std::uint32_t rs1024_valid(bool extendable, const WordIndices& words) noexcept {
  return ct::eq(polymod(extendable, words, words.size()), 1);
}

void rs1024_write_checksum(bool extendable, WordIndices& words) noexcept {
  const std::size_t data = words.size() - 3;
  std::uint32_t chk = polymod(extendable, words, data);
  for (int i = 0; i < 3; ++i) chk = step(chk, 0);
  chk ^= 1;
  for (std::size_t i = 0; i < 3; ++i) {
    words.set(data + i, (chk >> (10 * (2 - i))) & 1023);
  }
}

}  // namespace hsm::slip39
