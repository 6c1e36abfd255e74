// The worker loop: the TLS server on the inherited socket, a readiness check at start, and a
// drain on SIGTERM.
#include "ceremonies/service/serve_worker.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "ceremonies/service/service_api.h"
#include "ceremonies/service/service_sign.h"
#include "core/error.h"

namespace hsm {

namespace {

// cpp-httplib's SSLServer, accepting on a socket bound elsewhere (the supervisor's).
class InheritedSocketServer : public httplib::SSLServer {
 public:
  using httplib::SSLServer::SSLServer;
  void adopt(int fd) { svr_sock_ = fd; }
  // Leaves the accept loop (at its next idle tick) without stop()'s shutdown(2) of the socket:
  // the socket is shared, and a shutdown would end every other worker's accept too (the new
  // workers a SIGHUP starts while this one finishes).
  void stop_accepting() { svr_sock_ = INVALID_SOCKET; }
};

void require_tls13(httplib::SSLServer& server, const ServeOptions& o) {
  if (!server.is_valid() ||
      SSL_CTX_set_min_proto_version(server.ssl_context(), TLS1_3_VERSION) != 1)
    fail(Category::usage, fmt::format("cannot serve TLS with certificate '{}', key '{}' and "
                                      "client CA '{}': give PEM files of one key pair and a CA",
                                      o.tls_cert.string(), o.tls_key.string(),
                                      o.client_ca.string()));
}

int serve_until_signal(const WorkerContext& c) {
  const ServeOptions& o = c.options;
  SigningServiceConfig config{o.workspace, &c.pin, o.max_auth_failures,
                              std::chrono::seconds(o.sad_ttl_seconds),
                              c.allow.open() ? nullptr : &c.allow};
  config.queue_limit = o.queue_limit;
  config.request_timeout_seconds = o.request_timeout_seconds;
  config.client_rate = o.client_rate;
  config.user_rate = o.user_rate;
  config.rates = &c.rates;
  config.metrics = &c.metrics;
  config.workspace.lock_wait = std::chrono::seconds(30);
  config.workspace.on_lock_wait = nullptr;
  // At start, once: a token that refuses the PIN ends the service (the supervisor stops);
  // anything else (no master key yet, a missing token) only makes /healthz say why.
  try {
    Workspace ws(config.workspace);
    ws.use_pin(Secret::copy_of(c.pin.bytes()));
    check_service_ready(ws);
  } catch (const Error& e) {
    if (c.log) c.log(fmt::format("worker {}: not ready: {}", ::getpid(), e.what()));
    if (e.category() == Category::auth) return kWorkerPinRefused;
  }
  InheritedSocketServer server(o.tls_cert.c_str(), o.tls_key.c_str(), o.client_ca.c_str());
  require_tls13(server, o);
  SigningService service(config, c.metrics, c.sads, c.log, c.access);
  service.install(server);
  server.adopt(c.listen_fd);
  server.set_idle_interval(0, 200 * 1000);  // the accept loop looks at stop_accepting() 5 times a second

  std::atomic<bool> ended{false};
  std::thread listener([&] {
    server.listen_after_bind();
    ended = true;
  });
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  bool signalled = false;
  const timespec tick{0, 200 * 1000 * 1000};
  while (!ended && !signalled) signalled = ::sigtimedwait(&stop, nullptr, &tick) > 0;
  // Repeated until the thread has left the loop. cpp-httplib finishes the requests in flight
  // before listen_after_bind returns.
  while (!ended) {
    server.stop_accepting();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  listener.join();
  // Another worker's drain shuts the shared socket down: this one's SIGTERM is on its way.
  const timespec moment{1, 0};
  if (!signalled) signalled = ::sigtimedwait(&stop, nullptr, &moment) > 0;
  return signalled ? 0 : 1;
}

}  // namespace

void check_worker_tls(const ServeOptions& o) {
  httplib::SSLServer probe(o.tls_cert.c_str(), o.tls_key.c_str(), o.client_ca.c_str());
  require_tls13(probe, o);
}

void run_worker(const WorkerContext& c) {
  int code = 1;
  try {
    // A supervisor killed outright takes its workers along.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != c.supervisor) ::_exit(0);
    code = serve_until_signal(c);
  } catch (const std::exception& e) {
    if (c.log) c.log(fmt::format("worker {}: error: {}", ::getpid(), e.what()));
  }
  ::_exit(code);
}

}  // namespace hsm
