// TOTP codes with OpenSSL's HMAC-SHA1. Never keeps the seed or an HMAC output outside locked
// memory (OpenSSL wipes its working copy of the key), and never accepts a used step again.
#include "core/otp/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <array>

#include "core/error.h"

namespace hsm::otp {

namespace {

constexpr std::size_t kSha1Size = 20;

// HOTP (RFC 4226 section 5.3) for one counter value.
std::string hotp(const Secret& seed, std::uint64_t counter, int digits) {
  std::array<std::uint8_t, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  Secret mac(kSha1Size);  // whoever holds it can compute the code: keep it locked and wiped
  std::size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA1", nullptr, seed.data(), seed.size(),
                message.data(), message.size(), mac.data(), mac.size(), &mac_len) == nullptr ||
      mac_len != kSha1Size)
    fail(Category::general, "HMAC-SHA1 failed in OpenSSL");

  const std::uint8_t* h = mac.data();
  const unsigned offset = h[kSha1Size - 1] & 0x0f;
  std::uint32_t binary = (static_cast<std::uint32_t>(h[offset] & 0x7f) << 24) |
                         (static_cast<std::uint32_t>(h[offset + 1]) << 16) |
                         (static_cast<std::uint32_t>(h[offset + 2]) << 8) |
                         static_cast<std::uint32_t>(h[offset + 3]);
  std::string code(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    code[static_cast<std::size_t>(i)] = static_cast<char>('0' + binary % 10);
    binary /= 10;
  }
  return code;
}

bool is_well_formed(std::string_view code) {
  if (code.size() != static_cast<std::size_t>(kDigits)) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Secret new_totp_seed() {
  Secret seed(kSeedSize);
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

std::string totp_code(const Secret& seed, std::uint64_t unix_time, int digits) {
  if (seed.empty()) fail(Category::usage, "the TOTP seed is empty");
  if (digits < 6 || digits > 8)
    fail(Category::usage, "a TOTP code has 6 to 8 digits, not " + std::to_string(digits));
  return hotp(seed, time_step(unix_time), digits);
}

std::optional<std::uint64_t> verify_totp(const Secret& seed, std::string_view code,
                                         std::uint64_t unix_time,
                                         std::uint64_t last_accepted_step) {
  if (seed.empty()) fail(Category::usage, "the TOTP seed is empty");
  if (!is_well_formed(code)) return std::nullopt;

  const std::uint64_t now = time_step(unix_time);
  const std::uint64_t first = now == 0 ? 0 : now - 1;
  std::optional<std::uint64_t> matched;
  // Every candidate is computed and compared, so timing does not say which step matched. If a
  // code happens to match two steps, the later one is taken so the code cannot be replayed.
  for (std::uint64_t step = first; step <= now + 1; ++step) {
    const std::string expected = hotp(seed, step, kDigits);
    const bool equal = CRYPTO_memcmp(expected.data(), code.data(), expected.size()) == 0;
    if (equal && step > last_accepted_step) matched = step;
  }
  return matched;
}

}  // namespace hsm::otp
