// The SLIP-0039 Feistel encryption of the master secret. Halves, round keys, the password
// (round byte || passphrase) and the salt (which holds a half) all live in Secrets; never copy
// them into a std::string or vector.
#include "core/shamir/feistel.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/shamir/ct.h"

namespace hsm::slip39 {
namespace {

constexpr std::uint32_t kRoundIterations = 2500;  // per round, shifted left by e
constexpr int kRounds = 4;
constexpr char kSaltPrefix[] = "shamir";  // followed by the identifier when ext = 0
constexpr std::size_t kSaltPrefixBytes = 6 + 2;

void check_parameters(std::size_t length, std::uint16_t identifier, std::uint8_t iteration_exponent,
                      const Secret& passphrase) {
  if (length < kMinSecretBytes || length > kMaxSecretBytes || length % 2 != 0) {
    fail(Category::usage,
         "A master secret must be an even number of bytes between 16 and 64, "
         "not " +
             std::to_string(length) + ".");
  }
  if (iteration_exponent > 15) {
    fail(Category::usage, "The iteration exponent must be between 0 and 15, not " +
                              std::to_string(iteration_exponent) + ".");
  }
  if (identifier > 0x7FFF) fail(Category::usage, "A share set identifier has only 15 bits.");
  std::uint32_t printable = ~0u;
  for (std::uint8_t c : passphrase.bytes()) printable &= ct::in_range(c, 32, 126);
  if (!ct::declassify_mask(printable)) {
    fail(Category::usage,
         "The passphrase may contain only printable ASCII characters (space "
         "to '~'), as SLIP-0039 requires; choose another passphrase.");
  }
}

// Runs the four rounds (in reverse order to decrypt) and returns R || L.
Secret feistel(std::span<const std::uint8_t> input, const Secret& passphrase,
               std::uint16_t identifier, bool extendable, std::uint8_t iteration_exponent,
               bool decrypt) {
  const std::size_t half = input.size() / 2;
  Secret left = Secret::copy_of(input.first(half));
  Secret right = Secret::copy_of(input.subspan(half));

  Secret password(1 + passphrase.size());  // round number || passphrase
  if (!passphrase.empty()) std::memcpy(password.data() + 1, passphrase.data(), passphrase.size());

  const std::size_t prefix = extendable ? 0 : kSaltPrefixBytes;
  Secret salt(prefix + half);  // ("shamir" || id when not extendable) || R
  if (!extendable) {
    std::memcpy(salt.data(), kSaltPrefix, 6);
    salt.data()[6] = static_cast<std::uint8_t>(identifier >> 8);
    salt.data()[7] = static_cast<std::uint8_t>(identifier);
  }

  Secret round_key(half);
  for (int step = 0; step < kRounds; ++step) {
    password.data()[0] = static_cast<std::uint8_t>(decrypt ? kRounds - 1 - step : step);
    std::memcpy(salt.data() + prefix, right.data(), half);
    const int ok = PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()),
                                     static_cast<int>(password.size()), salt.data(),
                                     static_cast<int>(salt.size()),
                                     static_cast<int>(kRoundIterations << iteration_exponent),
                                     EVP_sha256(), static_cast<int>(half), round_key.data());
    if (ok != 1) {
      char reason[256] = {};
      ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
      fail(Category::general, "PBKDF2-HMAC-SHA256 failed while encrypting the master secret.",
           reason);
    }
    // (L, R) = (R, L xor F(i, R))
    for (std::size_t k = 0; k < half; ++k) left.data()[k] ^= round_key.data()[k];
    std::swap(left, right);
  }
  Secret output(input.size());
  std::memcpy(output.data(), right.data(), half);
  std::memcpy(output.data() + half, left.data(), half);
  return output;
}

}  // namespace

EncryptedMasterSecret encrypt_master_secret(const Secret& master_secret, const Secret& passphrase,
                                            std::uint16_t identifier, bool extendable,
                                            std::uint8_t iteration_exponent) {
  check_parameters(master_secret.size(), identifier, iteration_exponent, passphrase);
  return {identifier, extendable, iteration_exponent,
          feistel(master_secret.bytes(), passphrase, identifier, extendable, iteration_exponent,
                  false)};
}

Secret decrypt_ems(const EncryptedMasterSecret& ems, const Secret& passphrase) {
  check_parameters(ems.value.size(), ems.identifier, ems.iteration_exponent, passphrase);
  return feistel(ems.value.bytes(), passphrase, ems.identifier, ems.extendable,
                 ems.iteration_exponent, true);
}

}  // namespace hsm::slip39
