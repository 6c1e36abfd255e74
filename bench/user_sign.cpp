// `user sign` with password and TOTP, one whole process per signature (start-up, token login,
// Argon2id at --kdf-profile min, the one-time code, the transcript entries), as hsmctl is built
// against hsmctl_nostate: the same binary with the keystore state switched off
// (bench/no_state.cpp). Both sign in a keystore of --users N users (10 000 by default) on their
// own copy of one workspace; they alternate, rotated, several rounds, each signature by a user
// who has not signed yet (a TOTP code is good once). The figure is what the state costs per
// signature (issue 27: within 5%); reported as signatures/s on the wall clock and per CPU
// second of the hsmctl processes.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/bench_workspace.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using hsm::bench::children_cpu;
using hsm::bench::median;
using hsm::bench::note;
using hsm::bench::run;

const char* kPin = "bench-pin-1234";
const char* kPassword = "bench-password-for-all";

// Runs argv with `extra_env` added (replacing variables of the same name), output to /dev/null; throws unless it exits 0.
void spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
      return entry.substr(0, entry.find('=') + 1) == x.substr(0, x.find('=') + 1);
    });
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_addopen(&io, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &io, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&io);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(args[0] + " " + args[1] + " " + args[2] + " did not exit 0");
}

struct Variant {
  std::string name, binary;
  fs::path ws;
  std::vector<double> rate, per_cpu;  // one per round
};

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--users");
  const long users = flags.size ? flags.size : flags.quick ? 500 : 10000;
  const long signs = flags.quick ? 10 : 60;  // per variant and round
  const int rounds = flags.quick ? 1 : flags.rounds;
  const fs::path dir = fs::temp_directory_path() / ("hsmctl-bench-sign-" + std::to_string(::getpid()));
  try {
    hsm::bench::make_workspace(dir, kPin, HSMCTL_BINARY);
    ::setenv("PW", kPassword, 1);
    const std::string hsmctl = HSMCTL_BINARY;
    {
      std::ofstream csv(dir / "users.csv");
      csv << "name,password\n";
      for (long i = 0; i < users; ++i) csv << "u" << i << "," << kPassword << "\n";
    }
    fs::permissions(dir / "users.csv", fs::perms::owner_read | fs::perms::owner_write);
    run(hsmctl + " user provision --from " + (dir / "users.csv").string() +
        " --kdf-profile min --jobs 2 >/dev/null");
    // The signers: one TOTP seed each, enrolled with hsmctl (a state change of their rows).
    const long signers = signs * rounds;
    std::vector<std::string> seeds;
    for (long i = 0; i < signers; ++i) {
      const std::string out = run(hsmctl + " user otp-enroll u" + std::to_string(i) +
                                  " --password-source env:PW --show-secret");
      const auto at = out.find("secret=");
      if (at == std::string::npos) throw std::runtime_error("otp-enroll printed no secret");
      seeds.push_back(out.substr(at + 7, out.find('&', at) - at - 7));
    }
    std::ofstream(dir / "data.txt") << "quarterly report\n";
    note("%ld users (kdf min), %ld of them with TOTP; %ld signatures per variant and round, "
         "%d rounds", users, signers, signs, rounds);

    std::vector<Variant> variants = {{"state", HSMCTL_BINARY, dir / "ws-state", {}, {}},
                                     {"nostate", HSMCTL_NOSTATE_BINARY, dir / "ws-nostate", {}, {}}};
    for (Variant& v : variants) fs::copy(dir / "ws", v.ws, fs::copy_options::recursive);
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t k = 0; k < variants.size(); ++k) {
        Variant& v = variants[(k + static_cast<std::size_t>(r)) % variants.size()];
        double wall = 0, cpu = 0;
        for (long i = r * signs; i < (r + 1) * signs; ++i) {
          // The code is computed outside the timed part (oathtool is a process of its own).
          std::string code = run("oathtool --totp -b " + seeds[static_cast<std::size_t>(i)]);
          code.erase(code.find_last_not_of("\n") + 1);
          const std::vector<std::string> args{
              v.binary, "user", "sign", "u" + std::to_string(i), "--in",
              (dir / "data.txt").string(), "--out", (dir / ("sig-" + v.name + std::to_string(i))).string(),
              "--password-source", "env:PW", "--otp-source", "env:OTP"};
          const double cpu0 = children_cpu();
          const hsm::bench::Stopwatch clock;
          spawn(args, {"HSMCTL_DIR=" + v.ws.string(), "OTP=" + code});
          wall += clock.wall_seconds();
          cpu += children_cpu() - cpu0;
        }
        v.rate.push_back(static_cast<double>(signs) / wall);
        v.per_cpu.push_back(static_cast<double>(signs) / cpu);
        note("round %d %s: %.1f signatures/s, %.1f per CPU second", r, v.name.c_str(),
             v.rate.back(), v.per_cpu.back());
      }
    }
    hsm::bench::report("user_sign_state_vs_nostate", median(variants[0].rate),
                       median(variants[1].rate), ">=0.95", "signs/s");
    hsm::bench::report("user_sign_cpu_state_vs_nostate", median(variants[0].per_cpu),
                       median(variants[1].per_cpu), "-", "signs/cpu-s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
