// Argon2id: our own implementation in a kept buffer for costs up to 64 MiB, libsodium's
// crypto_pwhash above. Never keeps a password or derived key anywhere but the caller's Secret
// buffers (the kept buffer holds Argon2 blocks; see argon2_memory.cpp for its wiping).
#include "core/kdf/argon2id.h"

#include <sodium.h>

#include <array>
#include <string>

#include "core/error.h"
#include "core/kdf/argon2_fill.h"

namespace hsm::kdf {

static_assert(kSaltSize == crypto_pwhash_argon2id_SALTBYTES);
static_assert(kDefaultKeySize >= crypto_pwhash_argon2id_BYTES_MIN);

namespace {

struct NamedProfile {
  KdfProfile profile;
  std::string_view name;
};

constexpr std::array<NamedProfile, 4> kProfiles{{
    {KdfProfile::min, "min"},
    {KdfProfile::interactive, "interactive"},
    {KdfProfile::moderate, "moderate"},
    {KdfProfile::sensitive, "sensitive"},
}};

// Costs up to the `interactive` profile's 64 MiB run on our own Argon2id (argon2_fill.h) in
// one buffer the process keeps: crypto_pwhash maps, zero-fills, wipes and unmaps its memory
// on every call, which at 64 MiB is about 30% more memory traffic than the hash itself and at
// 8 KiB costs more than the hash. That made the KDF the largest host-side cost of batch
// provisioning. Larger costs (moderate, sensitive) hash once per process, so libsodium keeps
// them. The kdf unit tests check both agree with crypto_pwhash byte for byte.
constexpr std::size_t kKeptBufferMax = std::size_t{64} << 20;

bool derive_kept(const Secret& password, ByteView salt, KdfParams params, Secret& key) {
  const detail::Argon2Inputs in{
      .passes = static_cast<std::uint32_t>(params.opslimit),
      .m_kib = static_cast<std::uint32_t>(params.memlimit / 1024),  // as crypto_pwhash does
      .lanes = 1,
      .password = password.bytes(),
      .salt = salt,
      .secret = {},
      .associated = {},
  };
  return detail::argon2id(in, key.bytes());
}

}  // namespace

KdfProfile parse_kdf_profile(std::string_view name) {
  for (const auto& p : kProfiles)
    if (p.name == name) return p.profile;
  fail(Category::usage, "unknown KDF profile '" + std::string(name) +
                            "': use one of min, interactive, moderate, sensitive");
}

std::string_view kdf_profile_name(KdfProfile profile) noexcept {
  for (const auto& p : kProfiles)
    if (p.profile == profile) return p.name;
  return "unknown";
}

KdfParams kdf_params(KdfProfile profile) noexcept {
  switch (profile) {
    case KdfProfile::min:
      return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
    case KdfProfile::interactive:
      return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
              crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
    case KdfProfile::moderate:
      return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
    case KdfProfile::sensitive:
      return {crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE,
              crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE};
  }
  // Unreachable for a valid enum value; the strongest profile is the safe answer.
  return {crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE, crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE};
}

Bytes new_salt() {
  init_secure_memory();
  Bytes salt(kSaltSize);
  randombytes_buf(salt.data(), salt.size());
  return salt;
}

Secret derive_password_key(const Secret& password, ByteView salt, KdfParams params,
                           std::size_t out_len) {
  // An empty password would derive a key anyone can recompute; it is always a caller bug.
  if (password.empty()) fail(Category::usage, "the password is empty");
  if (password.size() > crypto_pwhash_argon2id_PASSWD_MAX)
    fail(Category::usage, "the password is too long for Argon2id");
  if (salt.size() != kSaltSize)
    fail(Category::usage, "the Argon2id salt must be " + std::to_string(kSaltSize) +
                              " bytes, not " + std::to_string(salt.size()));
  if (out_len < crypto_pwhash_argon2id_BYTES_MIN || out_len > crypto_pwhash_argon2id_BYTES_MAX)
    fail(Category::usage, "an Argon2id key must be at least " +
                              std::to_string(crypto_pwhash_argon2id_BYTES_MIN) + " bytes");
  if (params.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params.opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params.memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX)
    fail(Category::usage, "Argon2id parameters are outside libsodium's limits (opslimit " +
                              std::to_string(params.opslimit) + ", memlimit " +
                              std::to_string(params.memlimit) + ")");

  Secret key(out_len);
  if (params.memlimit <= kKeptBufferMax && derive_kept(password, salt, params, key)) return key;
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(password.data()),
                    password.size(), salt.data(), params.opslimit, params.memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    fail(Category::general,
         "Argon2id failed: not enough memory for " + std::to_string(params.memlimit >> 10) +
             " KiB; free memory or choose a smaller KDF profile");
  return key;
}

}  // namespace hsm::kdf
