// Start-up cost of `hsmctl --help` against /bin/true: both spawned the same way, many times, in
// this run. Measures process creation, dynamic linking and static initialisation; never touches
// a token, a workspace or the network.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench.h"

extern char** environ;

namespace {

using hsm::bench::children_cpu;

// Spawns argv with stdout and stderr on /dev/null and waits; throws unless it exits 0.
void run_once(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_addopen(&io, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&io, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &io, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&io);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(args[0] + " did not exit 0");
}

struct PerRun {
  double cpu_ms = 1e300;   // the children's CPU: what start-up costs, whatever the load
  double wall_ms = 1e300;  // includes the wait for a core on a shared machine
};

// The fastest of `rounds` rounds of `runs` runs (the least disturbed round).
PerRun per_run(const std::vector<std::string>& args, long runs, int rounds) {
  for (int i = 0; i < 5; ++i) run_once(args);  // page cache, loader cache
  PerRun best;
  for (int r = 0; r < rounds; ++r) {
    const double cpu0 = children_cpu();
    const hsm::bench::Stopwatch clock;
    for (long i = 0; i < runs; ++i) run_once(args);
    best.wall_ms = std::min(best.wall_ms, clock.wall_seconds() * 1e3 / static_cast<double>(runs));
    best.cpu_ms = std::min(best.cpu_ms, (children_cpu() - cpu0) * 1e3 / static_cast<double>(runs));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--runs");
  const long runs = flags.size ? flags.size : flags.quick ? 20 : 100;
  try {
    const PerRun hsmctl = per_run({HSMCTL_BINARY, "--help"}, runs, 3);
    const PerRun bin_true = per_run({"/bin/true"}, runs, 3);
    hsm::bench::note("hsmctl --help: %.2f ms CPU, %.2f ms wall per run; /bin/true: %.2f ms CPU, "
                     "%.2f ms wall (best of 3 rounds of %ld runs)",
                     hsmctl.cpu_ms, hsmctl.wall_ms, bin_true.cpu_ms, bin_true.wall_ms, runs);
    hsm::bench::report("startup_help", hsmctl.cpu_ms, bin_true.cpu_ms, "-", "cpu-ms/run");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
