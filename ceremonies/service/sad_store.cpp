// The shared SAD table: issue, redeem once, expire. Entries are found by the SHA-256 of the SAD.
#include "ceremonies/service/sad_store.h"

#include <pthread.h>
#include <sodium.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>

#include "ceremonies/service/shared_mutex.h"
#include "core/error.h"

namespace hsm {

namespace {

constexpr std::size_t kSadBytes = 32;
constexpr std::size_t kMaxHashBytes = 48;
constexpr std::size_t kMaxSealedInner = 1024;  // ECDSA inner blobs are ~150 bytes
constexpr std::size_t kFieldChars = 80;        // a user name (64) or a fingerprint (64 hex)

std::int64_t now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process of the machine
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void copy_field(char (&to)[kFieldChars], const std::string& from) {
  std::memset(to, 0, kFieldChars);
  std::memcpy(to, from.data(), std::min(from.size(), kFieldChars - 1));
}

// The sealing key of an entry: keyed BLAKE2b of the SAD, so only its holder opens the entry.
std::array<unsigned char, crypto_secretbox_KEYBYTES> sealing_key(const unsigned char* sad) {
  static constexpr unsigned char kContext[] = "hsmctl v1 csc sad seal";
  std::array<unsigned char, crypto_secretbox_KEYBYTES> key{};
  crypto_generichash(key.data(), key.size(), sad, kSadBytes, kContext, sizeof kContext - 1);
  return key;
}

std::vector<Bytes> sorted(std::vector<Bytes> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

struct SadStore::Shared {
  struct Entry {
    bool live;
    unsigned char sad_sha256[crypto_hash_sha256_BYTES];
    std::int64_t expires_ms;
    char credential[kFieldChars], client[kFieldChars], digest_alg[8];
    std::int64_t key_version;
    std::uint32_t hash_count, hash_size;
    unsigned char hashes[kMaxSadHashes][kMaxHashBytes];
    std::uint32_t sealed_size;
    unsigned char nonce[crypto_secretbox_NONCEBYTES];
    unsigned char sealed[kMaxSealedInner + crypto_secretbox_MACBYTES];
  };
  pthread_mutex_t mutex;
  Entry entries[kSadSlots];
};

SadStore::SadStore() {
  void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) fail(Category::general, "cannot map the service's shared SAD table");
  ::madvise(p, sizeof(Shared), MADV_DONTDUMP);
  shared_ = static_cast<Shared*>(p);  // zero: no live entry
  init_shared_mutex(shared_->mutex);
}

SadStore::~SadStore() {
  if (shared_ == nullptr) return;
  sodium_memzero(shared_->entries, sizeof shared_->entries);
  ::munmap(shared_, sizeof(Shared));
}

std::string SadStore::issue(const SadGrant& g, const Secret& inner, std::chrono::seconds ttl) {
  if (g.hashes.empty() || g.hashes.size() > kMaxSadHashes)
    fail(Category::usage, "a SAD binds 1 to 16 hashes");
  if (inner.size() > kMaxSealedInner)
    fail(Category::usage, "this credential's key is too large to be authorised for signHash");
  unsigned char sad[kSadBytes];
  randombytes_buf(sad, sizeof sad);
  Shared::Entry e{};
  crypto_hash_sha256(e.sad_sha256, sad, sizeof sad);
  e.expires_ms = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  copy_field(e.credential, g.credential);
  copy_field(e.client, g.client);
  std::memcpy(e.digest_alg, g.digest_alg.c_str(), std::min<std::size_t>(g.digest_alg.size(), 7));
  e.key_version = g.key_version;
  e.hash_count = static_cast<std::uint32_t>(g.hashes.size());
  e.hash_size = static_cast<std::uint32_t>(g.hashes.front().size());
  for (std::size_t i = 0; i < g.hashes.size(); ++i) {
    if (g.hashes[i].size() != e.hash_size || e.hash_size > kMaxHashBytes)
      fail(Category::usage, "the hashes of one SAD are of one algorithm and length");
    std::memcpy(e.hashes[i], g.hashes[i].data(), e.hash_size);
  }
  randombytes_buf(e.nonce, sizeof e.nonce);
  auto key = sealing_key(sad);
  crypto_secretbox_easy(e.sealed, inner.data(), inner.size(), e.nonce, key.data());
  sodium_memzero(key.data(), key.size());
  e.sealed_size = static_cast<std::uint32_t>(inner.size() + crypto_secretbox_MACBYTES);
  e.live = true;

  char text[sodium_base64_ENCODED_LEN(kSadBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, sad, sizeof sad, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(sad, sizeof sad);
  {
    const SharedMutexTurn turn(shared_->mutex);
    const std::int64_t now = now_ms();
    for (Shared::Entry& slot : shared_->entries) {
      if (slot.live && slot.expires_ms > now) continue;
      slot = e;
      sodium_memzero(&e, sizeof e);
      return text;
    }
  }
  sodium_memzero(&e, sizeof e);
  fail(Category::general, "too many SADs are outstanding; try again once some are used or expired");
}

std::optional<RedeemedSad> SadStore::redeem(const std::string& sad, const std::string& credential,
                                            const std::string& client,
                                            const std::string& digest_alg,
                                            const std::vector<Bytes>& hashes, std::string& why) {
  why = "Invalid parameter SAD";
  unsigned char raw[kSadBytes];
  std::size_t raw_len = 0;
  if (sad.size() != 43 ||
      sodium_base642bin(raw, sizeof raw, sad.data(), sad.size(), nullptr, &raw_len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      raw_len != kSadBytes)
    return std::nullopt;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, raw, sizeof raw);
  Shared::Entry e{};
  {
    const SharedMutexTurn turn(shared_->mutex);
    Shared::Entry* found = nullptr;
    for (Shared::Entry& slot : shared_->entries)
      if (slot.live && sodium_memcmp(slot.sad_sha256, digest, sizeof digest) == 0) found = &slot;
    if (found == nullptr || client != found->client) return std::nullopt;
    if (found->expires_ms <= now_ms()) {
      sodium_memzero(found, sizeof *found);
      why = "SAD expired";
      return std::nullopt;
    }
    if (credential != found->credential) {
      why = "Invalid parameter credentialID";
      return std::nullopt;
    }
    std::vector<Bytes> granted;
    for (std::uint32_t i = 0; i < found->hash_count; ++i)
      granted.emplace_back(found->hashes[i], found->hashes[i] + found->hash_size);
    if (digest_alg != found->digest_alg || sorted(granted) != sorted(hashes)) {
      why = "Hash is not authorized by the SAD";
      return std::nullopt;
    }
    e = *found;
    sodium_memzero(found, sizeof *found);  // used: gone for every worker
  }
  RedeemedSad out{{credential, client, digest_alg, hashes, e.key_version},
                  Secret(e.sealed_size - crypto_secretbox_MACBYTES)};
  auto key = sealing_key(raw);
  sodium_memzero(raw, sizeof raw);
  const bool opened = crypto_secretbox_open_easy(out.inner.data(), e.sealed, e.sealed_size,
                                                 e.nonce, key.data()) == 0;
  sodium_memzero(key.data(), key.size());
  sodium_memzero(&e, sizeof e);
  if (!opened) fail(Category::integrity, "a SAD's sealed key does not open: the table was changed");
  why.clear();
  return out;
}

}  // namespace hsm
