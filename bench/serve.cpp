// `hsmctl serve` under load (issue 29): signatures per second through the service (2 workers,
// keep-alive HTTPS connections with client certificates, users at --kdf-profile min, each
// request with its password) against a bare one-thread loop in this process doing the same
// token work per signature (Argon2id and the KEK derivation, GCM-open of the outer layer,
// unwrap under MK-wrap, sign, destroy) without HTTP, keystore or transcript. They alternate,
// several rounds of a fixed time each. Also reported: p50 and p99 latency through the service.
// Then users at --kdf-profile interactive, where Argon2id is the cost: the service against two
// threads here running Argon2id at the same parameters (the 0.8x), one request at a
// time per worker, so one Argon2 buffer per worker. Also the bare loop in two processes at once,
// the ceiling of two workers that did nothing but the token work.
// The load generator runs here, on the same cores (the target, 1.2x, allows for it).
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "bench/bench_workspace.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/service/worker_token.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/users/user_layers.h"
#include "ceremonies/users/user_sign.h"
#include "ceremonies/workspace.h"
#include "core/bytes.h"
#include "core/kdf/argon2id.h"
#include "core/secure/secret_source.h"

namespace {

namespace fs = std::filesystem;
using hsm::bench::note;
using hsm::bench::run;
using Clock = std::chrono::steady_clock;

const char* kPin = "bench-pin-1234";
const char* kPassword = "bench-password-for-all";

// The service, started with `hsmctl serve` on a free port; stopped (SIGTERM) at the end.
class Service {
 public:
  Service(const std::string& hsmctl, const fs::path& pki) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      ::close(out[0]);
      const std::string cert = (pki / "server.crt").string(), key = (pki / "server.key").string(),
                        ca = (pki / "ca.crt").string();
      ::execl(hsmctl.c_str(), hsmctl.c_str(), "serve", "--listen", "127.0.0.1:0", "--tls-cert",
              cert.c_str(), "--tls-key", key.c_str(), "--client-ca", ca.c_str(), "--workers",
              "2", "--user-rate", "0", "--queue", "64", "--access-log", "off",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string shown;
    char c;
    while (shown.find('\n') == std::string::npos && ::read(out[0], &c, 1) == 1) shown += c;
    ::close(out[0]);
    const auto colon = shown.rfind(':');
    if (shown.find("listening on") == std::string::npos || colon == std::string::npos)
      throw std::runtime_error("hsmctl serve did not start: " + shown);
    port_ = std::stoi(shown.substr(colon + 1));
  }
  ~Service() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A throwaway CA, the server's certificate (127.0.0.1) and a client's.
void make_pki(const fs::path& d) {
  fs::create_directories(d);
  const std::string p = d.string() + "/";
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + p +
      "ca.key -out " + p + "ca.crt -days 2 -subj /CN=bench-ca 2>/dev/null");
  for (const std::string& n : {std::string("server"), std::string("client")}) {
    std::ofstream(p + n + ".ext") << (n == "server" ? "subjectAltName=IP:127.0.0.1\n"
                                                      "extendedKeyUsage=serverAuth\n"
                                                    : "extendedKeyUsage=clientAuth\n");
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + p + n +
        ".key -out " + p + n + ".csr -subj /CN=" + n + " 2>/dev/null");
    run("openssl x509 -req -in " + p + n + ".csr -CA " + p + "ca.crt -CAkey " + p +
        "ca.key -CAcreateserial -days 2 -extfile " + p + n + ".ext -out " + p + n +
        ".crt 2>/dev/null");
  }
}

struct LoadResult {
  long ok = 0, failed = 0;
  std::vector<double> latency_ms;
};

// `clients` threads, each on one keep-alive connection, signing for `seconds` as users
// PREFIX0..PREFIX{users-1} in turn.
LoadResult load(int port, const fs::path& pki, int clients, double seconds, int users,
                const std::string& prefix = "u") {
  std::vector<LoadResult> each(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      httplib::SSLClient cli("127.0.0.1", port, (pki / "client.crt").string(),
                             (pki / "client.key").string());
      cli.set_ca_cert_path((pki / "ca.crt").string().c_str());
      cli.enable_server_certificate_verification(true);
      cli.set_keep_alive(true);
      cli.set_read_timeout(60);
      LoadResult& r = each[static_cast<std::size_t>(t)];
      for (long i = t; Clock::now() < end; i += clients) {
        const std::string user = prefix + std::to_string(i % users);
        const std::string body = std::string("{\"data\":\"YmVuY2g=\",\"password\":\"") +
                                 kPassword + "\"}";
        const auto started = Clock::now();
        const auto res = cli.Post(("/v1/users/" + user + "/sign").c_str(), body,
                                  "application/json");
        const double ms =
            std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        if (res && res->status == 200) {
          ++r.ok;
          r.latency_ms.push_back(ms);
        } else {
          if (r.failed++ == 0 && t == 0)
            note("first failure: %s", res ? (std::to_string(res->status) + " " + res->body).c_str()
                                          : httplib::to_string(res.error()).c_str());
        }
      }
    });
  for (auto& th : threads) th.join();
  LoadResult all;
  for (auto& r : each) {
    all.ok += r.ok;
    all.failed += r.failed;
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
  return all;
}

// The bare loop: the token work of one signature, one thread, for `seconds`.
long bare_loop(const hsm::p11::Session& s, const hsm::MasterKeys& mk,
               const std::vector<hsm::keystore::UserRecord>& users, double seconds) {
  const hsm::Secret password = hsm::Secret::copy_of(
      hsm::ByteView(reinterpret_cast<const std::uint8_t*>(kPassword), std::strlen(kPassword)));
  const hsm::Bytes input{'b', 'e', 'n', 'c', 'h'};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  long n = 0;
  for (std::size_t i = 0; Clock::now() < end; ++i, ++n) {
    const auto& u = users[i % users.size()];
    const hsm::p11::SessionObject kek =
        hsm::derive_user_kek(s, mk.derive, u.name, password, u.secrets.kdf);
    std::optional<hsm::Secret> inner = hsm::open_outer(s, kek, u);
    if (!inner) throw std::runtime_error("the bare loop could not open " + u.name);
    const hsm::UnlockedUser unlocked{u, std::move(*inner), hsm::Secret()};
    (void)hsm::sign_as_user(s, mk, unlocked, input, hsm::SignedForm::data);
  }
  return n;
}

// The bare loop in `n` processes at once, each with its own module and login (as the service's
// workers): signatures per second of all together. With nothing but the token work, this is
// what two workers could do at most on these cores, before HTTP, TLS, the transcript and the
// load generator take their share.
double bare_loop_processes(const hsm::WorkspaceOptions& o,
                           const std::vector<hsm::keystore::UserRecord>& users, int n,
                           double seconds) {
  std::vector<std::pair<pid_t, int>> children;
  const hsm::bench::Stopwatch w;
  for (int i = 0; i < n; ++i) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
      ::close(out[0]);
      long done = -1;
      try {
        // Loads the module in this process and logs in without the workspace lock, as a
        // service worker does for its token work.
        const hsm::Secret pin = hsm::read_secret(o.pin_source, "PIN");
        hsm::WorkerToken token(o, pin);
        done = bare_loop(token.session(), token.master(), users, seconds);
      } catch (const std::exception&) {
      }
      (void)!::write(out[1], &done, sizeof done);
      ::_exit(0);
    }
    ::close(out[1]);
    children.emplace_back(pid, out[0]);
  }
  long total = 0;
  bool failed = false;
  for (const auto& [pid, fd] : children) {
    long done = -1;
    if (::read(fd, &done, sizeof done) != static_cast<ssize_t>(sizeof done) || done < 0)
      failed = true;
    else
      total += done;
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  if (failed) throw std::runtime_error("a bare loop process failed");
  return static_cast<double>(total) / w.wall_seconds();
}

// Two threads deriving Argon2id keys at `kdf` for `seconds`: derivations per second.
double two_argon2_threads(const hsm::keystore::KdfParams& kdf, double seconds) {
  std::atomic<long> n{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const hsm::bench::Stopwatch w;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      const hsm::Secret password = hsm::Secret::copy_of(hsm::ByteView(
          reinterpret_cast<const std::uint8_t*>(kPassword), std::strlen(kPassword)));
      while (Clock::now() < end) {
        (void)hsm::kdf::derive_password_key(password, kdf.salt,
                                            {kdf.opslimit, static_cast<std::size_t>(kdf.memlimit)});
        ++n;
      }
    });
  for (auto& th : threads) th.join();
  return static_cast<double>(n.load()) / w.wall_seconds();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const hsm::bench::Flags flags = hsm::bench::parse_flags(argc, argv, "--users");
  const int users = flags.size > 0 ? static_cast<int>(flags.size) : flags.quick ? 8 : 64;
  const int rounds = flags.quick ? 1 : flags.rounds, clients = 64;
  const double seconds = flags.quick ? 2 : 8;
  char tmpl[] = "/tmp/hsmctl-bench-serve-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const fs::path dir = tmpl;
  try {
    const std::string hsmctl = HSMCTL_BINARY;
    hsm::bench::make_workspace(dir, kPin, hsmctl);
    {
      std::ofstream csv(dir / "users.csv");
      csv << "name,password\n";
      for (int i = 0; i < users; ++i) csv << "u" << i << "," << kPassword << "\n";
    }
    fs::permissions(dir / "users.csv", fs::perms::owner_read | fs::perms::owner_write);
    run(hsmctl + " user provision --from " + (dir / "users.csv").string() +
        " --kdf-profile min --jobs 2 >/dev/null");
    const int slow_users = 4;
    {
      std::ofstream csv(dir / "slow.csv");
      csv << "name,password\n";
      for (int i = 0; i < slow_users; ++i) csv << "i" << i << "," << kPassword << "\n";
    }
    fs::permissions(dir / "slow.csv", fs::perms::owner_read | fs::perms::owner_write);
    run(hsmctl + " user provision --from " + (dir / "slow.csv").string() +
        " --kdf-profile interactive --jobs 2 >/dev/null");
    make_pki(dir / "pki");

    // The workspace as the bare loops open it, and the users' rows they sign with (read once:
    // signing changes nothing the loops use).
    hsm::WorkspaceOptions o;
    o.dir = dir / "ws";
    o.pin_source = hsm::SecretSource::parse("env:BENCH_PIN");
    std::vector<hsm::keystore::UserRecord> records;
    hsm::keystore::KdfParams interactive;
    {
      hsm::Workspace ws(o);
      for (int i = 0; i < users; ++i)
        records.push_back(*ws.keystore().find_user("u" + std::to_string(i)));
      interactive = ws.keystore().find_user("i0")->secrets.kdf;
    }

    double service_rate = 0, bare_rate = 0, bare_two_rate = 0;
    std::vector<double> latencies;
    long failed = 0;
    for (int round = 0; round < rounds; ++round) {
      {  // the bare loop (its workspace closed before the service runs)
        hsm::Workspace ws(o);
        const hsm::bench::Stopwatch w;
        const hsm::p11::Session& s = ws.login();
        const long n = bare_loop(s, hsm::require_master(s), records, seconds);
        bare_rate += static_cast<double>(n) / w.wall_seconds();
      }
      // The same in two processes, each loading the module itself (none is loaded here now).
      bare_two_rate += bare_loop_processes(o, records, 2, seconds);
      {
        const Service service(hsmctl, dir / "pki");
        (void)load(service.port(), dir / "pki", clients, 0.5, users);  // warm the workers
        const hsm::bench::Stopwatch w;
        const LoadResult r = load(service.port(), dir / "pki", clients, seconds, users);
        service_rate += static_cast<double>(r.ok) / w.wall_seconds();
        failed += r.failed;
        latencies.insert(latencies.end(), r.latency_ms.begin(), r.latency_ms.end());
      }
    }
    service_rate /= rounds;
    bare_rate /= rounds;
    bare_two_rate /= rounds;

    // Interactive profile: the KDF is the cost.
    double slow_service = 0, slow_argon = 0;
    long slow_failed = 0;
    for (int round = 0; round < rounds; ++round) {
      slow_argon += two_argon2_threads(interactive, seconds);
      const Service service(hsmctl, dir / "pki");
      const hsm::bench::Stopwatch w;
      const LoadResult r = load(service.port(), dir / "pki", clients, seconds, slow_users, "i");
      slow_service += static_cast<double>(r.ok) / w.wall_seconds();
      slow_failed += r.failed;
    }
    slow_service /= rounds;
    slow_argon /= rounds;
    note("%d users (kdf min), %d rounds of %.0f s, %d keep-alive clients, 2 workers", users,
         rounds, seconds, clients);
    note("service: %.1f signatures/s, p50 %.1f ms, p99 %.1f ms, %ld failed; bare loop: %.1f/s",
         service_rate, percentile(latencies, 0.5), percentile(latencies, 0.99), failed, bare_rate);
    hsm::bench::report("serve_sign_rate_vs_bare_loop", service_rate, bare_rate, ">=1.2",
                       "signatures/s");
    // The ceiling of two workers: the bare loop in two processes at once, against one thread.
    note("bare loop in two processes at once: %.1f/s", bare_two_rate);
    hsm::bench::report("serve_bare_loop_two_processes_vs_one", bare_two_rate, bare_rate, "-",
                       "signatures/s");
    hsm::bench::report("serve_sign_rate_vs_bare_loop_two_processes", service_rate, bare_two_rate,
                       "-", "signatures/s");
    hsm::bench::report("serve_sign_p50_ms", percentile(latencies, 0.5), 0, "-", "ms");
    hsm::bench::report("serve_sign_p99_ms", percentile(latencies, 0.99), 0, "-", "ms");
    note("interactive profile (%llu ops, %llu MiB): service %.2f signatures/s (%ld failed), two "
         "Argon2id threads %.2f/s", static_cast<unsigned long long>(interactive.opslimit),
         static_cast<unsigned long long>(interactive.memlimit >> 20), slow_service, slow_failed,
         slow_argon);
    hsm::bench::report("serve_interactive_rate_vs_two_argon2id", slow_service, slow_argon,
                       ">=0.8", "signatures/s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve: %s\n", e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
