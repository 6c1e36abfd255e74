// Signing through two nodes of a fleet beside one node (issue 31): one PostgreSQL keystore, node
// A's token cloned onto node B's with `clone` (a quorum of the shares), B joined with
// `transcript join`, users provisioned on A. Then `hsmctl user sign` runs, two at a time: both on
// node A ("one node"), or one on A and one on B ("two nodes"), alternating rounds of the same
// number of signatures. Each node has its own workspace and token, and the fleet runs one
// ceremony at a time (its lock, docs/design.md "The fleet"), so the second node adds a token
// and a workspace, not parallel ceremonies: the figure says what that costs or gains. Needs
// HSMCTL_TEST_PG (a database URL); without it the program runs itself under
// scripts/lib/pg_cluster.sh, which starts a throwaway PostgreSQL 15 cluster with fsync on.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "bench/bench_workspace.h"

namespace {

namespace fs = std::filesystem;
using hsm::bench::median;
using hsm::bench::note;
using hsm::bench::run;
using hsm::bench::Stopwatch;

const char* kPin = "bench-pin-1234";
const char* kPassword = "bench-password-fleet";
constexpr int kUsers = 16;

struct Node {
  fs::path dir;
  std::string token;
};

std::string on(const Node& n) {
  return "HSMCTL_DIR=" + n.dir.string() + " HSMCTL_TOKEN=" + n.token + " " + HSMCTL_BINARY;
}

// Two threads, each signing `per_thread` times as users in turn, the first on `a`, the second
// on `b`: signatures per wall second.
double sign_rate(const fs::path& dir, const Node& a, const Node& b, int per_thread,
                 const std::string& tag) {
  std::atomic<int> failed{0};
  const Stopwatch clock;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      const Node& n = t == 0 ? a : b;
      for (int i = 0; i < per_thread; ++i) {
        const std::string out =
            (dir / "sigs" / (tag + "-" + std::to_string(t) + "-" + std::to_string(i))).string();
        const std::string user = "f" + std::to_string((i * 2 + t) % kUsers);
        try {
          run("PW=" + std::string(kPassword) + " " + on(n) + " user sign " + user + " --in " +
              (dir / "data.txt").string() + " --out " + out +
              " --password-source env:PW >/dev/null 2>&1");
        } catch (const std::exception&) {
          ++failed;
        }
      }
    });
  for (auto& th : threads) th.join();
  const double wall = clock.wall_seconds();
  if (failed > 0) throw std::runtime_error(std::to_string(failed.load()) + " signatures failed");
  return 2.0 * per_thread / wall;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--size");
  const char* url = std::getenv("HSMCTL_TEST_PG");
  if (url == nullptr || *url == '\0')
    return hsm::bench::run_under_pg_cluster(HSMCTL_SOURCE_DIR, argc, argv);
  const int per_thread = flags.size > 0 ? static_cast<int>(flags.size) : (flags.quick ? 6 : 30);
  char pattern[] = "/tmp/hsmctl-bench-fleet-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path dir = pattern;
  try {
    hsm::bench::make_workspace(dir, kPin, HSMCTL_BINARY);  // SoftHSM config, token "bench"
    const Node a{dir / "node-a", "bench-a"}, b{dir / "node-b", "bench-b"};
    for (const Node* n : {&a, &b}) {
      fs::create_directories(n->dir);
      std::ofstream(n->dir / "hsmctl.toml")
          << "store = \"" << url << "\"\nnode = \"" << n->dir.filename().string() << "\"\n";
      run("softhsm2-util --init-token --free --label " + n->token +
          " --so-pin 87654321 --pin " + kPin + " >/dev/null");
    }
    fs::create_directories(dir / "fleet-shares");
    fs::permissions(dir / "fleet-shares", fs::perms::owner_all, fs::perm_options::replace);
    fs::create_directories(dir / "sigs");
    std::ofstream(dir / "data.txt") << "signed by the fleet\n";
    run(on(a) + " master init --threshold 2 --custodians a,b,c --shares-out " +
        (dir / "fleet-shares").string() + " >/dev/null");
    run(on(a) + " clone --from-token " + a.token + " --to-token " + b.token +
        " --shares-file " + (dir / "fleet-shares" / "a.share").string() + " --shares-file " +
        (dir / "fleet-shares" / "b.share").string() + " >/dev/null");
    run(on(b) + " transcript join >/dev/null");
    {
      std::ofstream csv(dir / "fleet-users.csv");
      csv << "name,password\n";
      for (int i = 0; i < kUsers; ++i) csv << "f" << i << "," << kPassword << "\n";
    }
    fs::permissions(dir / "fleet-users.csv", fs::perms::owner_read | fs::perms::owner_write);
    run(on(a) + " user provision --from " + (dir / "fleet-users.csv").string() +
        " --kdf-profile min >/dev/null");
    (void)sign_rate(dir, a, b, 2, "warm");  // each token and workspace used once
    std::vector<double> one, two;
    for (int r = 0; r < flags.rounds; ++r) {  // alternating, so drift in load hits both alike
      one.push_back(sign_rate(dir, a, a, per_thread, "one" + std::to_string(r)));
      two.push_back(sign_rate(dir, a, b, per_thread, "two" + std::to_string(r)));
    }
    note("median of %d rounds of %d signatures: one node %.1f/s, two nodes %.1f/s (hsmctl "
         "user sign, two at a time; one machine, server on a Unix socket)",
         flags.rounds, 2 * per_thread, median(one), median(two));
    hsm::bench::report("fleet_sign_two_nodes_vs_one", median(two), median(one), "-",
                       "signatures/s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_fleet_sign: %s\n", e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
