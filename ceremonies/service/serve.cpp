// The supervisor of `hsmctl serve`: options, the PIN, the socket, the workers and the signals.
// The workers' own loop is in serve_worker.cpp.
#include "ceremonies/service/serve.h"

#include <fmt/format.h>
#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "ceremonies/service/allow_list.h"
#include "ceremonies/service/serve_worker.h"
#include "ceremonies/service/service_metrics.h"
#include "core/error.h"
#include "core/secure/secret_source.h"

namespace hsm {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Whether `path` holds at least one PEM certificate.
bool holds_certificate(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  return cert != nullptr;
}

// The listening socket, bound and listening; closed on destruction.
class Listener {
 public:
  explicit Listener(const ListenAddress& a) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(a.host.c_str(), std::to_string(a.port).c_str(), &hints, &found) == 0) {
      for (addrinfo* ai = found; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
        // Non-blocking: every worker waits in poll() on this one socket and all of them wake
        // for a connection; the ones that lose the race get EAGAIN from accept() and look
        // again (at the stop flag too), instead of blocking in accept() where a retiring
        // worker would stay, and take the next connection, until its grace ran out.
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                ai->ai_protocol);
        if (fd < 0) continue;
        const int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0) fd_ = fd;
        else ::close(fd);
      }
      ::freeaddrinfo(found);
    }
    if (fd_ < 0)
      fail(Category::general, fmt::format("cannot listen on {}: the address is in use or not "
                                          "this machine's", a.text()));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    bound_ = a;
    bound_.port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~Listener() { close(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  const ListenAddress& bound() const { return bound_; }

 private:
  int fd_ = -1;
  ListenAddress bound_;
};

// Blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD in this process (and in the workers it forks)
// while it lives: the supervisor takes them with sigtimedwait, the workers likewise, so no
// handler interrupts a request and no signal ends a ceremony half-way.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set_, sig);
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  // The next of the signals within `wait`, or 0.
  int next(std::chrono::milliseconds wait) const {
    timespec ts{static_cast<time_t>(wait.count() / 1000),
                static_cast<long>((wait.count() % 1000) * 1000000)};
    const int sig = ::sigtimedwait(&set_, nullptr, &ts);
    return sig < 0 ? 0 : sig;
  }

 private:
  sigset_t set_{}, old_{};
};

class Supervisor {
 public:
  Supervisor(const ServeOptions& o, const ServeHooks& hooks, const Listener& listener,
             const Secret& pin, ServiceMetrics& metrics, SadStore& sads, const AllowList& allow,
             RateLimiter& rates)
      : o_(o), hooks_(hooks), listener_(listener), pin_(pin), metrics_(metrics), sads_(sads),
        allow_(allow), rates_(rates) {}

  void start_worker() {
    std::fflush(nullptr);  // nothing buffered is written twice
    const pid_t supervisor = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) fail(Category::general, "cannot start a worker process (fork failed)");
    if (pid == 0) run_worker({o_, listener_.fd(), pin_, metrics_, sads_, allow_, rates_, hooks_.log,
                             hooks_.access, supervisor});
    workers_[pid] = Clock::now();
    log(fmt::format("supervisor: worker {} started", pid));
  }

  // SIGHUP: new workers, which read the certificate, key, CA and allow-list files again, take
  // the place of the running ones; those get SIGTERM, finish what they hold and end.
  void replace_workers() {
    std::vector<pid_t> old;
    for (const auto& [pid, started] : workers_) old.push_back(pid);
    for (std::size_t i = 0; i < old.size(); ++i) start_worker();
    for (const pid_t pid : old) {
      workers_.erase(pid);
      retiring_.insert(pid);
      ::kill(pid, SIGTERM);
    }
  }

  // Reaps the workers that ended; starts others in their place. Error(auth) when one ended
  // because the token refused the PIN; Error(general) when they keep ending at start.
  void reap_and_restart() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (retiring_.erase(pid) > 0) {
        log(fmt::format("supervisor: worker {} retired ({})", pid, describe(status)));
        continue;
      }
      const auto it = workers_.find(pid);
      if (it == workers_.end()) continue;
      const bool quick = Clock::now() - it->second < std::chrono::seconds(2);
      workers_.erase(it);
      log(fmt::format("supervisor: worker {} ended ({})", pid, describe(status)));
      if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerPinRefused)
        fail(Category::auth, "the token refused the PIN from --pin-source; nothing is served");
      quick_failures_ = quick ? quick_failures_ + 1 : 0;
      if (quick_failures_ >= 5)
        fail(Category::general, "the workers keep ending as they start; see the lines above");
      if (quick_failures_ > 0) std::this_thread::sleep_for(quick_failures_ * std::chrono::milliseconds(200));
      metrics_.count_restart();
      start_worker();
    }
  }

  // SIGTERM to every worker, then waits for them (SIGKILL after `grace`).
  void drain(std::chrono::seconds grace) noexcept {
    for (const pid_t pid : retiring_) workers_.emplace(pid, Clock::now());
    retiring_.clear();
    for (const auto& [pid, started] : workers_) ::kill(pid, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (!workers_.empty()) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        workers_.erase(pid);
        continue;
      }
      if (pid < 0) break;
      if (Clock::now() > deadline)
        for (const auto& [p, started] : workers_) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    workers_.clear();
  }

  bool any() const { return !workers_.empty(); }
  void log(const std::string& line) const {
    if (hooks_.log) hooks_.log(line);
  }

 private:
  static std::string describe(int status) {
    if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
    return fmt::format("exit {}", WEXITSTATUS(status));
  }
  const ServeOptions& o_;
  const ServeHooks& hooks_;
  const Listener& listener_;
  const Secret& pin_;
  ServiceMetrics& metrics_;
  SadStore& sads_;
  const AllowList& allow_;
  RateLimiter& rates_;
  std::map<pid_t, Clock::time_point> workers_;
  std::set<pid_t> retiring_;  // replaced at a SIGHUP, finishing what they hold
  int quick_failures_ = 0;
};

}  // namespace

void ServeOptions::validate() const {
  if (workers < 1 || workers > kMaxServeWorkers)
    fail(Category::usage, fmt::format("--workers {} is out of range: give 1 to {}", workers,
                                      kMaxServeWorkers));
  if (sad_ttl_seconds < 1 || sad_ttl_seconds > kMaxSadTtlSeconds)
    fail(Category::usage, fmt::format("--sad-ttl {} is out of range: give 1 to {} seconds",
                                      sad_ttl_seconds, kMaxSadTtlSeconds));
  if (request_timeout_seconds < 1 || request_timeout_seconds > 300)
    fail(Category::usage, fmt::format("--request-timeout {} is out of range: give 1 to 300 "
                                      "seconds", request_timeout_seconds));
  if (queue_limit < 0 || queue_limit > kMaxServeQueue)
    fail(Category::usage, fmt::format("--queue {} is out of range: give 0 to {} requests",
                                      queue_limit, kMaxServeQueue));
  for (const auto& [rate, option] : {std::pair{client_rate, "--client-rate"},
                                     std::pair{user_rate, "--user-rate"}})
    if (!(rate >= 0 && rate <= kMaxServeRate))
      fail(Category::usage, fmt::format("{} {} is out of range: give 0 (no limit) to {} "
                                        "requests a second", option, rate, kMaxServeRate));
  const std::pair<const fs::path*, const char*> files[] = {
      {&tls_cert, "--tls-cert"}, {&tls_key, "--tls-key"}, {&client_ca, "--client-ca"}};
  for (const auto& [f, option] : files) {
    if (f->empty()) fail(Category::usage, fmt::format("{} names no file", option));
    if (!fs::is_regular_file(*f))
      fail(Category::not_found, fmt::format("{} '{}' does not exist", option, f->string()));
  }
  if (!holds_certificate(client_ca))
    fail(Category::usage, fmt::format("--client-ca '{}' holds no PEM certificate: give the CA "
                                      "that issues the clients' certificates", client_ca.string()));
  if (!allow.empty()) (void)AllowList::read(allow);
  require_workspace(workspace.dir);
}

void serve_signing(const ServeOptions& o, const ServeHooks& hooks) {
  o.validate();
  check_worker_tls(o);  // a server can be made of these files: refused here, not per worker
  const Secret pin = read_secret(o.workspace.pin_source, "user PIN of the token");
  ServiceMetrics metrics;
  SadStore sads;  // shared by the workers: a SAD is honoured once, by whichever worker
  AllowList allow = o.allow.empty() ? AllowList() : AllowList::read(o.allow);
  Listener listener(o.listen);
  const BlockedSignals signals;  // before the first fork: the workers inherit the mask
  ::signal(SIGPIPE, SIG_IGN);    // a client that hangs up must not end a worker
  if (hooks.listening) hooks.listening(listener.bound().text());
  RateLimiter rates;  // shared by the workers: one budget per client and per user
  Supervisor supervisor(o, hooks, listener, pin, metrics, sads, allow, rates);
  // Under systemd (Type=notify) the service says when it is ready, reloading and stopping;
  // sd_notify does nothing when NOTIFY_SOCKET is not set.
  const std::string status = fmt::format("STATUS=serving on {} with {} workers",
                                         listener.bound().text(), o.workers);
  try {
    for (int i = 0; i < o.workers; ++i) supervisor.start_worker();
    ::sd_notify(0, ("READY=1\n" + status).c_str());
    for (;;) {
      const int sig = signals.next(std::chrono::seconds(1));
      if (sig == SIGTERM || sig == SIGINT) {
        supervisor.log(fmt::format("supervisor: {}: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
        ::sd_notify(0, "STOPPING=1\nSTATUS=draining");
        break;
      }
      if (sig == SIGHUP) {
        // The files are checked first: files that do not make a server change nothing.
        ::sd_notify(0, "RELOADING=1\nSTATUS=reading the certificates again");
        try {
          check_worker_tls(o);
          AllowList fresh = o.allow.empty() ? AllowList() : AllowList::read(o.allow);
          allow = std::move(fresh);
          supervisor.replace_workers();
          supervisor.log("supervisor: SIGHUP: certificates and allow-list read again; "
                         "the workers were replaced");
        } catch (const Error& e) {
          supervisor.log(fmt::format("supervisor: SIGHUP: {}; the running workers keep the "
                                     "files they read", e.what()));
        }
        ::sd_notify(0, ("READY=1\n" + status).c_str());
      }
      supervisor.reap_and_restart();
    }
  } catch (...) {
    listener.close();
    supervisor.drain(std::chrono::seconds(30));
    throw;
  }
  listener.close();
  supervisor.drain(std::chrono::seconds(30));
  supervisor.log("supervisor: stopped");
}

}  // namespace hsm
