// Controls that prove the checker can fail: two GF(2^8) multiplies that are correct but not
// constant time, one indexing log/exp tables by the operands, one looping and branching on
// them. Under valgrind each must be reported; the library cases must not be.
#include <array>

#include "core/shamir/ct.h"
#include "tests/ct/ct_check.h"
#include "tests/ct/reference.h"

namespace hsm::ct_check {
namespace {

struct Tables {
  std::array<std::uint8_t, 256> log{};
  std::array<std::uint8_t, 255> exp{};
  Tables() {
    std::uint8_t x = 1;
    for (int i = 0; i < 255; ++i) {
      exp[i] = x;
      log[x] = static_cast<std::uint8_t>(i);
      x = reference_mul(x, 3);  // 3 generates the multiplicative group
    }
  }
};

// Secret-indexed memory: memcheck says "Use of uninitialised value of size 8".
__attribute__((noinline)) std::uint8_t table_mul(std::uint8_t a, std::uint8_t b) {
  static const Tables t;
  const std::uint32_t zero = slip39::ct::is_zero(a) | slip39::ct::is_zero(b);
  const std::uint8_t product = t.exp[(t.log[a] + t.log[b]) % 255];
  return static_cast<std::uint8_t>(product & ~zero);
}

// Secret-dependent loop and branches: "Conditional jump or move depends on uninitialised value".
__attribute__((noinline)) std::uint8_t branchy_mul(std::uint8_t a, std::uint8_t b) {
  std::uint8_t r = 0;
  while (b != 0) {
    if (b & 1) r ^= a;
    a = static_cast<std::uint8_t>((a & 0x80) ? (a << 1) ^ 0x1B : a << 1);
    b >>= 1;
  }
  return r;
}

template <std::uint8_t (*Mul)(std::uint8_t, std::uint8_t)>
void control_case() {
  std::array<std::uint8_t, 16> a{}, b{}, product{};
  std::uint32_t state = 23;
  fill(a, state);
  fill(b, state);
  const auto a_public = a, b_public = b;
  mark_secret(std::span(a));
  mark_secret(std::span(b));
  for (std::size_t i = 0; i < a.size(); ++i) product[i] = Mul(a[i], b[i]);
  declassify(product.data(), product.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    check(product[i] == reference_mul(a_public[i], b_public[i]), "the control multiplies");
  }
}

constexpr Case kControls[] = {
    {"control-table", control_case<table_mul>},
    {"control-branch", control_case<branchy_mul>},
};

}  // namespace

std::span<const Case> control_cases() {
  return kControls;
}

}  // namespace hsm::ct_check
