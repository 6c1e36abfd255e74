// `user provision` into a PostgreSQL keystore beside the same into SQLite, in the same run
// (issue 31: PostgreSQL at >= 0.8x SQLite's rate). Two throwaway SoftHSM tokens and workspaces,
// one with `store =` pointing at a PostgreSQL database, master initialised on each; then runs
// of --kdf-profile min --jobs 2, alternating SQLite and PostgreSQL, each of new users. Needs
// HSMCTL_TEST_PG (a database URL); without it the program runs itself under
// scripts/lib/pg_cluster.sh, which starts a throwaway PostgreSQL 15 cluster with fsync on.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench.h"
#include "bench/bench_workspace.h"

namespace {

namespace fs = std::filesystem;
using hsm::bench::note;
using hsm::bench::run;
using hsm::bench::Stopwatch;

const char* kPin = "bench-pin-1234";

fs::path users_file(const fs::path& dir, const std::string& prefix, long users) {
  const fs::path p = dir / (prefix + ".csv");
  std::ofstream out(p);
  out << "name,password\n";
  for (long i = 0; i < users; ++i) out << prefix << i << ",bench-password-" << prefix << i << "\n";
  out.close();
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  return p;
}

// One whole run into the workspace `ws` (token `token`): users per wall second.
double provision_rate(const fs::path& dir, const fs::path& ws, const std::string& token,
                      const std::string& prefix, long users) {
  const fs::path file = users_file(dir, prefix, users);
  const Stopwatch clock;
  const std::string out = run("HSMCTL_DIR=" + ws.string() + " HSMCTL_TOKEN=" + token + " " +
                              HSMCTL_BINARY + " --json user provision --from " + file.string() +
                              " --kdf-profile min --jobs 2 | tail -1");
  const double wall = clock.wall_seconds();
  const auto summary = nlohmann::json::parse(out)["summary"];
  if (summary["created"] != users) throw std::runtime_error("provision did not create every user");
  note("%s: %ld users in %.3f s wall", prefix.c_str(), users, wall);
  return static_cast<double>(users) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--size");
  const char* url = std::getenv("HSMCTL_TEST_PG");
  if (url == nullptr || *url == '\0')
    return hsm::bench::run_under_pg_cluster(HSMCTL_SOURCE_DIR, argc, argv);
  const long users = flags.size > 0 ? flags.size : (flags.quick ? 200 : 2000);
  char pattern[] = "/tmp/hsmctl-bench-pg-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path dir = pattern;
  try {
    hsm::bench::make_workspace(dir, kPin, HSMCTL_BINARY);  // token "bench", workspace ws
    fs::create_directories(dir / "ws-pg");
    fs::create_directories(dir / "shares-pg");
    fs::permissions(dir / "shares-pg", fs::perms::owner_all, fs::perm_options::replace);
    std::ofstream(dir / "ws-pg" / "hsmctl.toml") << "store = \"" << url << "\"\n";
    run("softhsm2-util --init-token --free --label bench-pg --so-pin 87654321 --pin " +
        std::string(kPin) + " >/dev/null");
    run("HSMCTL_DIR=" + (dir / "ws-pg").string() + " HSMCTL_TOKEN=bench-pg " + HSMCTL_BINARY +
        " master init --threshold 2 --custodians a,b,c --shares-out " +
        (dir / "shares-pg").string() + " >/dev/null");
    std::vector<double> sqlite, pg;
    for (int r = 0; r < flags.rounds; ++r) {  // alternating, so drift in load hits both alike
      sqlite.push_back(provision_rate(dir, dir / "ws", "bench", "s" + std::to_string(r) + "u", users));
      pg.push_back(provision_rate(dir, dir / "ws-pg", "bench-pg", "p" + std::to_string(r) + "u", users));
    }
    std::sort(sqlite.begin(), sqlite.end());
    std::sort(pg.begin(), pg.end());
    const double s = sqlite[sqlite.size() / 2], p = pg[pg.size() / 2];
    note("median of %d runs each: SQLite %.0f users/s, PostgreSQL %.0f users/s (one machine, "
         "server on a Unix socket)", flags.rounds, s, p);
    hsm::bench::report("provision_postgresql_vs_sqlite", p, s, ">=0.8", "users/s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_provision_pg: %s\n", e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
