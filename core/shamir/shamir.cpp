// SplitSecret, RecoverSecret and Lagrange interpolation from SLIP-0039. Every secret byte
// (coefficients, digest, share values) lives in a Secret; never branch on or index by one.
#include "core/shamir/shamir.h"

#include <sodium.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/shamir/ct.h"
#include "core/shamir/gf256.h"

namespace hsm::slip39 {
namespace {

constexpr std::uint8_t kSecretX = 255;
constexpr std::uint8_t kDigestX = 254;
constexpr std::size_t kDigestBytes = 4;
constexpr std::size_t kMaxShares = 16;

std::string capitalized(std::string_view phrase) {
  std::string s(phrase);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// The first four bytes of HMAC-SHA256(key = random_part, msg = secret).
void write_digest(std::span<const std::uint8_t> random_part, std::span<const std::uint8_t> secret,
                  std::span<std::uint8_t> out) {
  using State = crypto_auth_hmacsha256_state;
  // sodium_malloc puts the region's end at a page end; sizeof(State) is a multiple of its
  // alignment, so the start is aligned too.
  Secret state(sizeof(State));
  Secret mac(crypto_auth_hmacsha256_BYTES);
  auto* st = reinterpret_cast<State*>(state.data());
  crypto_auth_hmacsha256_init(st, random_part.data(), random_part.size());
  crypto_auth_hmacsha256_update(st, secret.data(), secret.size());
  crypto_auth_hmacsha256_final(st, mac.data());
  std::memcpy(out.data(), mac.data(), kDigestBytes);
}

}  // namespace

void system_random(std::span<std::uint8_t> out) {
  init_secure_memory();
  randombytes_buf(out.data(), out.size());
}

Secret interpolate(std::span<const SharePoint> points, std::uint8_t x) {
  if (points.empty()) fail(Category::usage, "Interpolation needs at least one share.");
  const std::size_t n = points.front().y.size();
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (points[i].y.size() != n) {
      fail(Category::integrity, "Shares of different lengths cannot be combined.");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (points[i].x == points[j].x) {
        fail(Category::integrity, "Two shares have the same index " + std::to_string(points[i].x) +
                                      "; give each share once.");
      }
    }
  }
  Secret out(n);
  for (std::size_t i = 0; i < points.size(); ++i) {
    // The Lagrange basis polynomial of point i at x depends only on public x values.
    std::uint8_t numerator = 1;
    std::uint8_t denominator = 1;
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      numerator = gf256::mul(numerator, gf256::add(x, points[j].x));
      denominator = gf256::mul(denominator, gf256::add(points[i].x, points[j].x));
    }
    const std::uint8_t basis = gf256::mul(numerator, gf256::inv(denominator));
    for (std::size_t k = 0; k < n; ++k) {
      out.data()[k] ^= gf256::mul(basis, points[i].y[k]);
    }
  }
  return out;
}

std::vector<Secret> split_secret(std::uint8_t threshold, std::uint8_t count, const Secret& secret,
                                 const RandomSource& random) {
  if (threshold < 1 || threshold > count || count > kMaxShares) {
    fail(Category::usage, "A threshold of " + std::to_string(threshold) + " out of " +
                              std::to_string(count) +
                              " shares is impossible; use 1 <= threshold <= shares <= 16.");
  }
  if (secret.size() < 16 || secret.size() % 2 != 0) {
    fail(Category::usage, "A shared secret must be at least 16 bytes long and of even length.");
  }
  std::vector<Secret> shares;
  shares.reserve(count);
  if (threshold == 1) {
    for (std::uint8_t i = 0; i < count; ++i) shares.push_back(Secret::copy_of(secret.bytes()));
    return shares;
  }
  const std::size_t n = secret.size();
  // D = first 4 bytes of HMAC-SHA256(R, S) || R, with R random.
  Secret digest(n);
  random(digest.bytes().subspan(kDigestBytes));
  write_digest(digest.bytes().subspan(kDigestBytes), secret.bytes(),
               digest.bytes().first(kDigestBytes));

  std::vector<SharePoint> base;
  base.reserve(threshold);
  for (std::uint8_t x = 0; x + 2 < threshold; ++x) {
    Secret y(n);
    random(y.bytes());
    shares.push_back(std::move(y));
    base.push_back({x, shares.back().bytes()});  // Secret storage does not move with the vector
  }
  base.push_back({kDigestX, digest.bytes()});
  base.push_back({kSecretX, secret.bytes()});
  for (std::uint8_t x = threshold - 2; x < count; ++x) shares.push_back(interpolate(base, x));
  return shares;
}

Secret recover_secret(std::uint8_t threshold, std::span<const SharePoint> points,
                      std::string_view what) {
  if (threshold < 1 || points.size() != threshold) {
    fail(Category::quorum, capitalized(what) + " need exactly " + std::to_string(threshold) +
                               " shares, but " + std::to_string(points.size()) + " were given.");
  }
  if (threshold == 1) return Secret::copy_of(points.front().y);
  Secret secret = interpolate(points, kSecretX);
  Secret digest = interpolate(points, kDigestX);
  Secret expected(kDigestBytes);
  write_digest(digest.bytes().subspan(kDigestBytes), secret.bytes(), expected.bytes());
  const int differs = ct::declassify(sodium_memcmp(expected.data(), digest.data(), kDigestBytes));
  if (differs != 0) {
    fail(Category::integrity, capitalized(what) +
                                  " do not combine into a consistent secret (digest mismatch): "
                                  "at least one share is wrong or belongs to another share set.");
  }
  return secret;
}

}  // namespace hsm::slip39
