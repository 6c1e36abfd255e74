// Helpers for the SLIP-0039 tests: the vectors directory, secrets from hex or text, a
// seeded random source, and running a call to get its hsm::Error. Tests only; never linked
// into hsmctl.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <bit>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "core/secure/secret.h"
#include "core/shamir/slip39.h"

namespace hsm::slip39::testing {

// The official SLIP-0039 vectors and wordlist kept in the repository (tests/vectors/slip39/).
inline std::string vectors_dir() {
  return std::string(HSMCTL_SOURCE_DIR) + "/tests/vectors/slip39";
}

inline Secret text(std::string_view chars) {
  return Secret::copy_of(chars);
}
inline Secret secret_from_hex(std::string_view hex) {
  return Secret::copy_of(from_hex(hex));
}
// Test-only: turns a secret into hex so that gtest can show a mismatch.
inline std::string hex(const Secret& s) {
  return to_hex(s.bytes());
}
inline std::string chars(const Secret& s) {
  return std::string(s.chars());
}

// Deterministic randomness, so that a failing case can be replayed.
inline RandomSource seeded_random(std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine](std::span<std::uint8_t> out) {
    for (auto& b : out) b = static_cast<std::uint8_t>((*engine)() & 0xFF);
  };
}

inline Secret random_secret(std::size_t n, std::uint32_t seed) {
  Secret s(n);
  seeded_random(seed)(s.bytes());
  return s;
}

// The error a call throws, or nullopt when it returns normally.
inline std::optional<Error> error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

// A copy of a share (tests only: Shares are move-only on purpose).
inline Share copy(const Share& s) {
  return Share{s.header, Secret::copy_of(s.value.bytes())};
}

// The shares at the given positions.
inline std::vector<Share> pick(const std::vector<Share>& all, const std::vector<std::size_t>& at) {
  std::vector<Share> out;
  for (std::size_t i : at) out.push_back(copy(all[i]));
  return out;
}

// Every subset of {0..n-1} with exactly k elements, as sorted positions.
inline std::vector<std::vector<std::size_t>> subsets(std::size_t n, std::size_t k) {
  std::vector<std::vector<std::size_t>> result;
  for (std::uint32_t bits = 0; bits < (1u << n); ++bits) {
    if (static_cast<std::size_t>(std::popcount(bits)) != k) continue;
    std::vector<std::size_t> set;
    for (std::size_t i = 0; i < n; ++i) {
      if (bits & (1u << i)) set.push_back(i);
    }
    result.push_back(set);
  }
  return result;
}

}  // namespace hsm::slip39::testing
