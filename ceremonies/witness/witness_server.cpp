// The add-checkpoint server: cpp-httplib's thread pool reads requests; one mutex lets a
// single request at a time into witness_cosign (whose state file lock also keeps a second
// process out), so the check of the old size and the new record are one step.
#include "ceremonies/witness/witness_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "ceremonies/witness/add_checkpoint.h"
#include "ceremonies/witness/witness.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/printable.h"

namespace hsm {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTextType = "text/plain; charset=utf-8";

// Checks, cosigns and records one add-checkpoint request at a time.
class AddCheckpointService {
 public:
  AddCheckpointService(const WitnessServeOptions& o, const Secret& seed,
                       const WitnessServeHooks& hooks)
      : options_(o), seed_(seed), hooks_(hooks) {}

  void answer(const httplib::Request& req, httplib::Response& res) {
    AddCheckpointRequest a;
    tlog::Checkpoint c;
    try {
      a = parse_add_checkpoint(req.body);
      c = tlog::parse_checkpoint(tlog::parse_note(a.checkpoint).text);
    } catch (const Error& e) {
      res.status = 400;
      res.set_content(std::string(e.what()) + "\n", kTextType);
      log(fmt::format("{}: 400 bad-request: {}", req.remote_addr, printable(e.what())));
      return;
    }
    CosignRequest r;
    r.dir = options_.dir;
    r.log_keys = options_.log_keys;
    r.checkpoint = a.checkpoint;
    r.old_size = a.old_size;
    r.proof = a.proof;
    r.seed = &seed_;
    CosignResult out;
    try {
      const std::lock_guard<std::mutex> one_at_a_time(cosign_mutex_);
      out = witness_cosign(r);
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content("the witness cannot record this checkpoint now\n", kTextType);
      log(fmt::format("{}: origin {} old {} size {}: 500 {}", req.remote_addr, printable(c.origin),
                      a.old_size, c.size, printable(e.what())));
      return;
    }
    res.status = http_status(out.outcome, a.old_size, c.size);
    if (res.status == 200)
      res.set_content(out.signature_line, kTextType);
    else if (res.status == 409)
      res.set_content(format_tlog_size(out.latest_size), kTlogSizeType);
    else
      res.set_content(out.message + "\n", kTextType);
    std::string line = fmt::format("{}: origin {} old {} size {}: {} {}", req.remote_addr,
                                   printable(c.origin), a.old_size, c.size, res.status,
                                   outcome_name(out.outcome));
    if (out.outcome != CosignOutcome::cosigned) line += fmt::format(" (last cosigned {})", out.latest_size);
    if (!out.evidence.empty()) line += ", evidence " + printable(out.evidence.string());
    log(line);
  }

  void log(const std::string& line) {
    const std::lock_guard<std::mutex> g(log_mutex_);
    if (hooks_.log) hooks_.log(line);
  }

 private:
  const WitnessServeOptions& options_;
  const Secret& seed_;
  const WitnessServeHooks& hooks_;
  std::mutex cosign_mutex_, log_mutex_;
};

// The listening thread; stopping it (also when an exception leaves serve_witness) waits for
// the requests in flight, which cpp-httplib's pool finishes before its threads end.
class ListenerThread {
 public:
  explicit ListenerThread(httplib::Server& server) : server_(server) {
    // The pool's threads are made by this one and inherit its mask: signals reach only the
    // main thread, which waits for them.
    sigset_t block, old;
    sigemptyset(&block);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&block, sig);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      ended_ = true;
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    while (!server_.is_running() && !ended_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~ListenerThread() {
    // stop() is a no-op until the loop runs: repeat until the thread has left it.
    while (!ended_) {
      server_.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    thread_.join();
  }
  ListenerThread(const ListenerThread&) = delete;
  ListenerThread& operator=(const ListenerThread&) = delete;
  bool ended() const { return ended_; }

 private:
  httplib::Server& server_;
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

std::unique_ptr<httplib::Server> make_server(const WitnessServeOptions& o) {
  if (o.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto s = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
  if (!s->is_valid())
    fail(Category::usage, fmt::format("cannot serve HTTPS with certificate '{}' and key '{}': "
                                      "give PEM files of one key pair", o.tls_cert.string(),
                                      o.tls_key.string()));
  return s;
}

}  // namespace

std::string ListenAddress::text() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

ListenAddress parse_listen_address(const std::string& text) {
  ListenAddress a;
  const std::size_t colon = text.rfind(':');
  const auto bad = [&] {
    fail(Category::usage, fmt::format("--listen '{}' is not HOST:PORT (e.g. 127.0.0.1:8080, "
                                      "[::1]:8080; port 0 picks a free one)", printable(text)));
  };
  if (colon == std::string::npos || colon == 0) bad();
  a.host = text.substr(0, colon);
  if (a.host.front() == '[') {
    if (a.host.size() < 3 || a.host.back() != ']') bad();
    a.host = a.host.substr(1, a.host.size() - 2);
  } else if (a.host.find(':') != std::string::npos) {
    bad();
  }
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    bad();
  a.port = static_cast<std::uint16_t>(std::stoul(port));
  return a;
}

void WitnessServeOptions::validate() const {
  if (log_keys.empty()) fail(Category::usage, "give the log's verifier key with --log-key");
  for (const auto& k : log_keys)
    if (k.type == tlog::KeyType::cosignature_v1)
      fail(Category::usage, fmt::format("--log-key '{}' is a witness's cosignature key, not a "
                                        "log's key", printable(k.name)));
  if (tls_cert.empty() != tls_key.empty())
    fail(Category::usage, "HTTPS needs both --tls-cert and --tls-key");
  for (const auto& f : {tls_cert, tls_key})
    if (!f.empty() && !fs::is_regular_file(f))
      fail(Category::not_found, fmt::format("TLS file '{}' does not exist", f.string()));
}

void serve_witness(const WitnessServeOptions& o, const WitnessServeHooks& hooks) {
  o.validate();
  const Secret seed = witness_seed(o.dir, o.key_source);
  std::unique_ptr<httplib::Server> server = make_server(o);
  AddCheckpointService service(o, seed, hooks);
  server->set_payload_max_length(kMaxAddCheckpointBody);
  server->set_read_timeout(10);
  server->set_write_timeout(10);
  server->set_keep_alive_timeout(5);
  server->Post(kAddCheckpointPath, [&service](const httplib::Request& req, httplib::Response& res) {
    service.answer(req, res);
  });
  server->Get(kAddCheckpointPath, [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "POST");
    res.set_content("add-checkpoint takes a POST\n", kTextType);
  });
  // cpp-httplib calls this for every answer of 400 or more; the ones add-checkpoint gave have a
  // body and their line already. What the library answers itself (an unknown path, a body over
  // the limit, a malformed request) gets a body and a line here.
  const httplib::Server::HandlerWithResponse on_error = [&service](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(fmt::format("HTTP {}\n", res.status), kTextType);
    service.log(fmt::format("{}: {} {}: {}", req.remote_addr, printable(req.method),
                            printable(req.path), res.status));
    return httplib::Server::HandlerResponse::Handled;
  };
  server->set_error_handler(on_error);

  int port = o.listen.port;
  if (port == 0) port = server->bind_to_any_port(o.listen.host);
  else if (!server->bind_to_port(o.listen.host, port)) port = -1;
  if (port <= 0)
    fail(Category::general, fmt::format("cannot listen on {}: the address is in use or not this "
                                        "machine's", o.listen.text()));
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the server
  const InterruptScope scope;  // a signal is noted, and the loop below ends
  const ListenerThread listener(*server);
  ListenAddress bound = o.listen;
  bound.port = static_cast<std::uint16_t>(port);
  if (hooks.listening) hooks.listening(bound.text());
  while (interrupt_signal() == 0 && !listener.ended()) {
    pollfd p{interrupt_fd(), POLLIN, 0};
    ::poll(&p, p.fd >= 0 ? 1 : 0, 200);
  }
  if (interrupt_signal() == 0)
    fail(Category::general, fmt::format("the server on {} stopped unexpectedly", bound.text()));
}

}  // namespace hsm
