// The token gate of one worker and the rate limiter shared by all workers of `hsmctl serve`.
#include "ceremonies/service/admission.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "ceremonies/service/shared_mutex.h"
#include "core/error.h"

namespace hsm {

TokenGate::Turn::Turn(TokenGate& g) : g_(g) {
  std::unique_lock<std::mutex> lock(g_.m_);
  if (g_.busy_) {
    if (g_.waiting_ >= g_.limit_) {
      g_.metrics_.count_refusal(ServiceMetrics::Refusal::queue_full);
      throw NotAdmitted{503, 1, "the service is at capacity: try again shortly"};
    }
    ++g_.waiting_;
    g_.metrics_.queue_change(+1);
    g_.cv_.wait(lock, [this] { return !g_.busy_; });
    --g_.waiting_;
    g_.metrics_.queue_change(-1);
  }
  g_.busy_ = true;
}

TokenGate::Turn::~Turn() {
  {
    const std::lock_guard<std::mutex> lock(g_.m_);
    g_.busy_ = false;
  }
  g_.cv_.notify_one();
}

int TokenGate::waiting() const {
  const std::lock_guard<std::mutex> lock(m_);
  return waiting_;
}

namespace {

double now_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process of the machine
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

struct RateLimiter::Shared {
  struct Bucket {
    bool used;
    unsigned char key[16];  // the first half of SHA-256(key)
    double tokens, updated;
  };
  pthread_mutex_t mutex;
  Bucket buckets[kRateSlots];
};

RateLimiter::RateLimiter() {
  void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) fail(Category::general, "cannot map the service's shared rate table");
  shared_ = static_cast<Shared*>(p);  // zero: every bucket unused
  init_shared_mutex(shared_->mutex);
}

RateLimiter::~RateLimiter() {
  if (shared_ != nullptr) ::munmap(shared_, sizeof(Shared));
}

int RateLimiter::take(std::string_view key, double rate) {
  if (rate <= 0) return 0;
  const double burst = std::max(1.0, 2 * rate);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  const double now = now_seconds();
  const SharedMutexTurn turn(shared_->mutex);
  // Open addressing from the key's own slot; the probe is short because the table is large
  // and a full bucket is given up for a new key.
  constexpr std::size_t kProbe = 32;
  std::size_t start = 0;
  std::memcpy(&start, digest + 16, sizeof start);
  Shared::Bucket* found = nullptr;
  Shared::Bucket* fullest = nullptr;
  double fullest_tokens = -1;
  for (std::size_t i = 0; i < kProbe && found == nullptr; ++i) {
    Shared::Bucket& b = shared_->buckets[(start + i) % kRateSlots];
    if (b.used && std::memcmp(b.key, digest, sizeof b.key) == 0) {
      found = &b;
      break;
    }
    const double level = b.used ? std::min(burst, b.tokens + (now - b.updated) * rate) : 1e300;
    if (level > fullest_tokens) {
      fullest_tokens = level;
      fullest = &b;
    }
  }
  if (found == nullptr) {
    // A new key: an unused slot, or the fullest one of the probe (nothing is forgotten when it
    // was full; when none is full the oldest debt is forgiven, which errs towards admitting).
    found = fullest;
    found->used = true;
    std::memcpy(found->key, digest, sizeof found->key);
    found->tokens = burst;
    found->updated = now;
  }
  found->tokens = std::min(burst, found->tokens + (now - found->updated) * rate);
  found->updated = now;
  if (found->tokens >= 1) {
    found->tokens -= 1;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1 - found->tokens) / rate)));
}

}  // namespace hsm
