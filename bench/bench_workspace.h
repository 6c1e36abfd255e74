// What the benchmarks that run the hsmctl binary share: a shell command's output, a run under a
// throwaway PostgreSQL cluster, and a throwaway SoftHSM token "bench" with a workspace whose master is initialised, selected
// through the environment (SOFTHSM2_CONF, HSMCTL_TOKEN, HSMCTL_DIR, HSMCTL_PIN_SOURCE) so
// that every hsmctl the benchmark starts uses them.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hsm::bench {

// Runs `cmd` with the shell; its standard output. Throws unless it exits 0.
inline std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) throw std::runtime_error("failed: " + cmd);
  return out;
}

// DIR/tokens (SoftHSM), DIR/ws (the workspace, master initialised by `hsmctl`, 2 of a,b,c) and
// DIR/shares (0700), with the token's user PIN `pin` in BENCH_PIN.
inline void make_workspace(const std::filesystem::path& dir, const std::string& pin,
                           const std::string& hsmctl) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "tokens");
  fs::create_directories(dir / "ws");
  fs::create_directories(dir / "shares");
  fs::permissions(dir / "shares", fs::perms::owner_all, fs::perm_options::replace);
  std::ofstream(dir / "softhsm2.conf") << "directories.tokendir = " << (dir / "tokens").string()
                                       << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
  ::setenv("HSMCTL_TOKEN", "bench", 1);
  ::setenv("HSMCTL_DIR", (dir / "ws").c_str(), 1);
  ::setenv("BENCH_PIN", pin.c_str(), 1);
  ::setenv("HSMCTL_PIN_SOURCE", "env:BENCH_PIN", 1);
  run("softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin " + pin +
      " >/dev/null");
  run(hsmctl + " master init --threshold 2 --custodians a,b,c --shares-out " +
      (dir / "shares").string() + " >/dev/null");
}

// Runs this benchmark again under scripts/lib/pg_cluster.sh (of the source tree `source_dir`),
// which starts a throwaway PostgreSQL 15 cluster with fsync and synchronous commit on (as
// SQLite's synchronous = FULL) and sets HSMCTL_TEST_PG; returns only if that cannot start (1).
inline int run_under_pg_cluster(const std::string& source_dir, int argc, char** argv) {
  std::vector<std::string> args{source_dir + "/scripts/lib/pg_cluster.sh",
                                std::filesystem::canonical("/proc/self/exe").string()};
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  av.push_back(nullptr);
  ::setenv("HSMCTL_PG_DURABLE", "1", 1);
  ::execv(av[0], av.data());
  std::perror("pg_cluster.sh");
  return 1;
}

}  // namespace hsm::bench
