// The constant-time checker's vocabulary (the ctgrind technique): mark secret bytes undefined
// for valgrind's memcheck, and any branch or memory index that depends on them becomes a
// memcheck error. Results are declassified before they are compared. Test code only.
#pragma once

#include <valgrind/memcheck.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <span>

namespace hsm::ct_check {

// From here on memcheck treats the bytes as secret (undefined).
inline void mark_secret(const void* p, std::size_t n) {
  VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}
template <class T, std::size_t N>
void mark_secret(std::span<T, N> s) {
  mark_secret(s.data(), s.size_bytes());
}
// The bytes are a result the test may branch on.
inline void declassify(const void* p, std::size_t n) {
  VALGRIND_MAKE_MEM_DEFINED(p, n);
}

// A property of a declassified result; exits 1 naming it when it does not hold.
inline void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "ct check failed: %s\n", what);
  std::exit(1);
}

// Deterministic bytes (xorshift32), so that a report can be replayed.
inline void fill(std::span<std::uint8_t> out, std::uint32_t& state) {
  for (auto& b : out) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    b = static_cast<std::uint8_t>(state);
  }
}

struct Case {
  const char* name;
  void (*run)();
};

// Cases of the library code, which must run without a report.
std::span<const Case> library_cases();
// Deliberately non-constant-time functions, which memcheck must report.
std::span<const Case> control_cases();

}  // namespace hsm::ct_check
