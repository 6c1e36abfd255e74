// One worker process of `hsmctl serve`: a cpp-httplib SSLServer (TLS 1.3 only, a client
// certificate required and verified against --client-ca) accepting on the socket the
// supervisor bound, until SIGTERM or SIGINT; then it stops accepting, finishes the requests in
// flight and exits. It never returns into the command line's main.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "ceremonies/service/admission.h"
#include "ceremonies/service/allow_list.h"
#include "ceremonies/service/sad_store.h"
#include "ceremonies/service/serve.h"
#include "ceremonies/service/service_metrics.h"
#include "core/secure/secret.h"

namespace hsm {

// The exit code of a worker whose token refused the PIN: the supervisor stops then.
inline constexpr int kWorkerPinRefused = 3;

struct WorkerContext {
  const ServeOptions& options;
  int listen_fd;
  const Secret& pin;
  ServiceMetrics& metrics;
  SadStore& sads;
  const AllowList& allow;  // open() without --allow
  RateLimiter& rates;
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&)> access;  // one JSON line a request
  pid_t supervisor;
};

// Runs in the forked child; ends it with _exit (0 after a drain).
[[noreturn]] void run_worker(const WorkerContext& c);

// Error(usage) unless the TLS files make a server (a certificate and its key).
void check_worker_tls(const ServeOptions& o);

}  // namespace hsm
