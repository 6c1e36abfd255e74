// Shared-memory counters and their Prometheus text.
#include "ceremonies/service/service_metrics.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <new>

#include "core/error.h"

namespace hsm {

namespace {

constexpr std::array<const char*, 10> kEndpointNames{
    "healthz", "public_key", "sign", "metrics", "csc", "checkpoint", "group_public_key",
    "group_sign", "group_deks", "other"};
// The statuses the service answers; anything else is counted as "other".
constexpr std::array<int, 12> kStatuses{200, 400, 401, 403, 404, 405, 413, 423, 429, 500, 501, 503};
constexpr std::size_t kOtherStatus = kStatuses.size();  // the last slot of each row
// Upper bounds in seconds (a signature with the interactive KDF profile takes ~0.1-0.5 s).
constexpr std::array<double, 11> kBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10};

using Counter = std::atomic<std::uint64_t>;
static_assert(Counter::is_always_lock_free, "the shared counters must not take a lock");

std::size_t status_index(int status) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  return kOtherStatus;
}

}  // namespace

struct ServiceMetrics::Shared {
  Counter requests[kEndpointNames.size()][kStatuses.size() + 1];
  Counter buckets[kEndpointNames.size()][kBounds.size() + 1];  // not cumulative; last: > max
  Counter latency_us[kEndpointNames.size()];
  Counter lockouts;
  Counter restarts;
  Counter token_errors;
  Counter refused[3];                // by Refusal
  std::atomic<std::int64_t> queued;  // requests waiting for a worker's token, every worker
};

ServiceMetrics::ServiceMetrics() {
  void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) fail(Category::general, "cannot map the service's shared counters");
  shared_ = new (p) Shared{};  // zero (the mapping is zero already)
}

ServiceMetrics::~ServiceMetrics() {
  if (shared_) ::munmap(shared_, sizeof(Shared));
}

void ServiceMetrics::count_request(Endpoint e, int status,
                                   std::chrono::microseconds latency) noexcept {
  const auto ei = static_cast<std::size_t>(e);
  shared_->requests[ei][status_index(status)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = static_cast<double>(latency.count()) / 1e6;
  std::size_t b = 0;
  while (b < kBounds.size() && seconds > kBounds[b]) ++b;
  shared_->buckets[ei][b].fetch_add(1, std::memory_order_relaxed);
  shared_->latency_us[ei].fetch_add(static_cast<std::uint64_t>(latency.count()),
                                    std::memory_order_relaxed);
}

void ServiceMetrics::count_lockout() noexcept {
  shared_->lockouts.fetch_add(1, std::memory_order_relaxed);
}

void ServiceMetrics::count_restart() noexcept {
  shared_->restarts.fetch_add(1, std::memory_order_relaxed);
}

void ServiceMetrics::count_token_error() noexcept {
  shared_->token_errors.fetch_add(1, std::memory_order_relaxed);
}

void ServiceMetrics::count_refusal(Refusal r) noexcept {
  shared_->refused[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
}

void ServiceMetrics::queue_change(int delta) noexcept {
  shared_->queued.fetch_add(delta, std::memory_order_relaxed);
}

std::string ServiceMetrics::prometheus_text() const {
  std::string out;
  out += "# HELP hsmctl_serve_requests_total Requests answered, by endpoint and HTTP status.\n";
  out += "# TYPE hsmctl_serve_requests_total counter\n";
  for (std::size_t e = 0; e < kEndpointNames.size(); ++e)
    for (std::size_t s = 0; s <= kStatuses.size(); ++s) {
      const std::uint64_t n = shared_->requests[e][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = s == kOtherStatus ? "other" : std::to_string(kStatuses[s]);
      out += fmt::format("hsmctl_serve_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n",
                         kEndpointNames[e], code, n);
    }
  out += "# HELP hsmctl_serve_request_duration_seconds Time from a request read to its answer.\n";
  out += "# TYPE hsmctl_serve_request_duration_seconds histogram\n";
  for (std::size_t e = 0; e < kEndpointNames.size(); ++e) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= kBounds.size(); ++b) {
      cumulative += shared_->buckets[e][b].load(std::memory_order_relaxed);
      const std::string le = b == kBounds.size() ? "+Inf" : fmt::format("{}", kBounds[b]);
      out += fmt::format(
          "hsmctl_serve_request_duration_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n",
          kEndpointNames[e], le, cumulative);
    }
    const double sum =
        static_cast<double>(shared_->latency_us[e].load(std::memory_order_relaxed)) / 1e6;
    out += fmt::format("hsmctl_serve_request_duration_seconds_sum{{endpoint=\"{}\"}} {}\n",
                       kEndpointNames[e], sum);
    out += fmt::format("hsmctl_serve_request_duration_seconds_count{{endpoint=\"{}\"}} {}\n",
                       kEndpointNames[e], cumulative);
  }
  out += "# HELP hsmctl_serve_lockouts_total Users locked by a failed request of this service.\n";
  out += "# TYPE hsmctl_serve_lockouts_total counter\n";
  out += fmt::format("hsmctl_serve_lockouts_total {}\n", shared_->lockouts.load());
  out += "# HELP hsmctl_serve_worker_restarts_total Workers started again after they ended.\n";
  out += "# TYPE hsmctl_serve_worker_restarts_total counter\n";
  out += fmt::format("hsmctl_serve_worker_restarts_total {}\n", shared_->restarts.load());
  out += "# HELP hsmctl_serve_token_errors_total Requests that failed in the token (PKCS#11).\n";
  out += "# TYPE hsmctl_serve_token_errors_total counter\n";
  out += fmt::format("hsmctl_serve_token_errors_total {}\n", shared_->token_errors.load());
  out += "# HELP hsmctl_serve_refused_total Requests not admitted: a full queue (503) or a "
         "rate limit (429).\n";
  out += "# TYPE hsmctl_serve_refused_total counter\n";
  constexpr std::array<const char*, 3> kReasons{"queue_full", "client_rate", "user_rate"};
  for (std::size_t r = 0; r < kReasons.size(); ++r)
    out += fmt::format("hsmctl_serve_refused_total{{reason=\"{}\"}} {}\n", kReasons[r],
                       shared_->refused[r].load());
  out += "# HELP hsmctl_serve_queue_depth Requests waiting for a worker's token session now.\n";
  out += "# TYPE hsmctl_serve_queue_depth gauge\n";
  out += fmt::format("hsmctl_serve_queue_depth {}\n", std::max<std::int64_t>(0, shared_->queued.load()));
  return out;
}

}  // namespace hsm
