// What `hsmctl serve` admits, so that overload is answered instead of queued without end: a
// bounded wait for the token in each worker (503 with Retry-After beyond it) and token-bucket
// rate limits per client certificate and per user (429 with Retry-After), the buckets shared
// by every worker in one anonymous mapping the supervisor makes before it forks. Keys are
// hashed; the table holds no name, only counters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "ceremonies/service/service_metrics.h"

namespace hsm {

inline constexpr int kDefaultServeQueue = 16;
inline constexpr int kMaxServeQueue = 10000;
inline constexpr double kMaxServeRate = 1e6;
inline constexpr double kDefaultUserRate = 10;  // signing requests per second per user
inline constexpr std::size_t kRateSlots = 4096;

// Thrown (it is no std::exception, so no handler's catch-all turns it into a 500) where a
// request is not admitted; the route wrappers answer it.
struct NotAdmitted {
  int status;                  // 503 (queue full) or 429 (rate)
  int retry_after_seconds;     // >= 1
  std::string why;             // one sentence, names no secret
};

// The token of one worker, taken one request at a time, with at most `limit` requests waiting
// for it (the one holding it not counted). Waiting beyond that throws NotAdmitted 503.
class TokenGate {
 public:
  // `metrics` gets the queue depth and the refusals.
  TokenGate(int limit, ServiceMetrics& metrics) : limit_(limit), metrics_(metrics) {}
  class Turn {
   public:
    explicit Turn(TokenGate& g);
    ~Turn();
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;

   private:
    TokenGate& g_;
  };
  // Requests waiting now (for /metrics).
  int waiting() const;

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  bool busy_ = false;
  int waiting_ = 0;
  int limit_;
  ServiceMetrics& metrics_;
};

// Token buckets: `rate` requests a second on average, bursts of up to max(1, 2 × rate). The
// table is fixed (kRateSlots); when it is full the fullest bucket is reused (a full bucket is
// the same as a fresh one, so that forgets nothing).
class RateLimiter {
 public:
  RateLimiter();  // maps the shared table; Error(general) if it cannot
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from the bucket of `key` ("client:<fingerprint>", "user:<name>"); 0 when
  // taken, otherwise the whole seconds until one is there. rate <= 0 always admits.
  int take(std::string_view key, double rate);

 private:
  struct Shared;
  Shared* shared_ = nullptr;
};

}  // namespace hsm
