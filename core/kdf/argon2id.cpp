// Argon2id through libsodium's crypto_pwhash, and for small memory costs through the reference
// implementation (libargon2) in a reused locked buffer. Never keeps a password or derived key
// anywhere but the caller's Secret buffers.
#include "core/kdf/argon2id.h"

#include <argon2.h>
#include <sodium.h>

#include <array>
#include <mutex>
#include <string>

#include "core/error.h"

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

// Argon2id of at most 1 MiB (the `min` profile and tests) computed by libargon2 in one locked
// buffer that stays mapped: crypto_pwhash maps and unmaps its blocks on every call, which for
// 8 KiB costs more than the hash (page faults, and an munmap TLB flush), and made the KDF the
// largest host-side cost of batch provisioning with `min`. Both libraries implement RFC 9106
// Argon2id v1.3 with one lane; the kdf unit tests check they agree byte for byte. Larger costs
// stay with libsodium, whose vectorised core is about 2.5x faster at 64 MiB than Debian's
// portable libargon2 build.
constexpr std::size_t kSmallMemory = std::size_t{1} << 20;

struct SmallArgonBuffer {
  std::mutex mutex;
  std::uint8_t* memory = nullptr;  // sodium_malloc: guard pages, locked, not dumped; never freed
};

SmallArgonBuffer& small_buffer() {
  static SmallArgonBuffer* b = new SmallArgonBuffer;
  return *b;
}

// Called by argon2_ctx inside derive_small, which holds the buffer's mutex and has made it.
int lend_buffer(std::uint8_t** memory, std::size_t bytes) {
  if (bytes > kSmallMemory) return ARGON2_MEMORY_ALLOCATION_ERROR;
  *memory = small_buffer().memory;
  return ARGON2_OK;
}

void return_buffer(std::uint8_t*, std::size_t) {}  // libargon2 has already zeroized it

bool derive_small(const Secret& password, ByteView salt, KdfParams params, Secret& key) {
  SmallArgonBuffer& b = small_buffer();
  std::lock_guard lock(b.mutex);
  if (b.memory == nullptr) {
    b.memory = static_cast<std::uint8_t*>(sodium_malloc(kSmallMemory));
    if (b.memory == nullptr) return false;  // libsodium's own path will try
  }
  argon2_context ctx{};
  ctx.out = key.data();
  ctx.outlen = static_cast<std::uint32_t>(key.size());
  ctx.pwd = const_cast<std::uint8_t*>(password.data());  // read only: no CLEAR_PASSWORD flag
  ctx.pwdlen = static_cast<std::uint32_t>(password.size());
  ctx.salt = const_cast<std::uint8_t*>(salt.data());
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.t_cost = static_cast<std::uint32_t>(params.opslimit);
  ctx.m_cost = static_cast<std::uint32_t>(params.memlimit / 1024);  // as crypto_pwhash does
  ctx.lanes = 1;
  ctx.threads = 1;
  ctx.version = ARGON2_VERSION_13;
  ctx.allocate_cbk = lend_buffer;
  ctx.free_cbk = return_buffer;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  return argon2_ctx(&ctx, Argon2_id) == ARGON2_OK;
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
  if (params.memlimit <= kSmallMemory && derive_small(password, salt, params, key)) return key;
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(password.data()),
                    password.size(), salt.data(), params.opslimit, params.memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    fail(Category::general,
         "Argon2id failed: not enough memory for " + std::to_string(params.memlimit >> 10) +
             " KiB; free memory or choose a smaller KDF profile");
  return key;
}

}  // namespace hsm::kdf
