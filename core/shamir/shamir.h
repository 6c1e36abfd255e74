// Shamir's secret sharing byte-wise over GF(2^8), as SLIP-0039 defines it: the shared secret sits
// at x = 255 and a digest of it at x = 254. Only the public x coordinates steer control flow;
// never branch on or index by a share byte.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "core/secure/secret.h"

namespace hsm::slip39 {

// Fills its argument with cryptographically secure random bytes. Tests may inject their own.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;
// libsodium's randombytes_buf.
void system_random(std::span<std::uint8_t> out);

// One point of a sharing polynomial per byte: a public x and the secret y bytes (a view into a
// Secret owned by the caller).
struct SharePoint {
  std::uint8_t x;
  std::span<const std::uint8_t> y;
};

// The values at x of the polynomials through points (distinct x, equal y lengths).
Secret interpolate(std::span<const SharePoint> points, std::uint8_t x);

// SplitSecret(T, N, S): N share values for x = 0 .. N-1, any `threshold` of which recover
// `secret`. Throws Error(usage) unless 1 <= threshold <= count <= 16 and the secret is at least
// 16 bytes of even length.
std::vector<Secret> split_secret(std::uint8_t threshold, std::uint8_t count, const Secret& secret,
                                 const RandomSource& random);

// RecoverSecret(T, points): expects exactly `threshold` points with distinct x. Throws
// Error(integrity) naming `what` ("the shares of group 2") when the digest does not match.
Secret recover_secret(std::uint8_t threshold, std::span<const SharePoint> points,
                      std::string_view what);

}  // namespace hsm::slip39
