// Constant-time building blocks for code that touches share bytes: masks instead of branches,
// and declassify(), the one way a secret-derived value may become something to branch on.
// Never branch on or index by a secret value that has not passed through declassify().
#pragma once

#include <cstdint>

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HSM_CT_VALGRIND 1
#endif

namespace hsm::slip39::ct {

// Masks are 0 or all ones.
inline std::uint32_t is_zero(std::uint32_t x) noexcept {
  return 0u - ((~x & (x - 1)) >> 31);
}
inline std::uint32_t eq(std::uint32_t a, std::uint32_t b) noexcept {
  return is_zero(a ^ b);
}
inline std::uint32_t is_zero64(std::uint64_t x) noexcept {
  return 0u - static_cast<std::uint32_t>((~x & (x - 1)) >> 63);
}
inline std::uint32_t eq64(std::uint64_t a, std::uint64_t b) noexcept {
  return is_zero64(a ^ b);
}
// a < b for any 32-bit values (BearSSL's formulation).
inline std::uint32_t lt(std::uint32_t a, std::uint32_t b) noexcept {
  const std::uint32_t z = a - b;
  return 0u - ((z ^ ((a ^ b) & (a ^ z))) >> 31);
}
// lo <= x <= hi.
inline std::uint32_t in_range(std::uint32_t x, std::uint32_t lo, std::uint32_t hi) noexcept {
  return ~lt(x, lo) & ~lt(hi, x);
}
inline std::uint64_t widen(std::uint32_t mask) noexcept {
  return (static_cast<std::uint64_t>(mask) << 32) | mask;
}

// Marks a value derived from secrets as public: a checksum verdict, a header field, a length.
// Under valgrind (where tests mark secrets undefined) this tells memcheck the value is defined.
template <class T>
T declassify(T value) noexcept {
#ifdef HSM_CT_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(&value, sizeof value);
#endif
  return value;
}
inline bool declassify_mask(std::uint32_t mask) noexcept {
  return declassify(mask) != 0;
}

}  // namespace hsm::slip39::ct
