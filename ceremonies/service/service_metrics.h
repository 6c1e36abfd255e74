// The counters of `hsmctl serve` in the Prometheus text exposition format (version 0.0.4):
// requests by endpoint and status, a latency histogram per endpoint, lockouts, worker
// restarts, token errors, refusals and the queue depth. They live in one shared anonymous
// mapping that the supervisor makes before it
// forks, so every worker adds to the same numbers and any worker can report them; only
// lock-free atomics are kept there. Never holds a name, a body or a secret: numbers only.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace hsm {

enum class Endpoint {
  healthz, public_key, sign, metrics, csc, checkpoint, group_public_key, group_sign,
  group_deks, other
};

class ServiceMetrics {
 public:
  ServiceMetrics();  // maps the shared counters (zero); Error(general) if it cannot
  ~ServiceMetrics();
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  void count_request(Endpoint e, int status, std::chrono::microseconds latency) noexcept;
  void count_lockout() noexcept;
  void count_restart() noexcept;
  void count_token_error() noexcept;
  enum class Refusal { queue_full, client_rate, user_rate };
  void count_refusal(Refusal r) noexcept;
  // The gauge of requests waiting for a worker's token (+1 when one starts waiting, -1 when
  // it stops).
  void queue_change(int delta) noexcept;
  // The whole exposition, "# HELP"/"# TYPE" lines included.
  std::string prometheus_text() const;

 private:
  struct Shared;
  Shared* shared_ = nullptr;
};

// The Content-Type of prometheus_text().
inline constexpr const char* kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace hsm
