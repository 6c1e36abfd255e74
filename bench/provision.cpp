// `user provision` throughput against the PKCS#11 work it cannot avoid, all measured in this run
// on one throwaway SoftHSM token.
// (1) --kdf-profile min --jobs 2, whole runs of 10 000 users (start-up included, each on a fresh
// copy of the workspace), against a bare single-session C loop of the scheme's token calls
// (generate P-256 pair, KWP-wrap under MK-wrap, derive a KEK from MK-derive, AES-GCM the inner
// blob, destroy), run pinned on each core and averaged. hsmctl runs as built (with jemalloc,
// which SoftHSM and OpenSSL then use too) and as hsmctl_glibc (the same objects with glibc's
// malloc), alternating, several rounds, and as hsmctl_nostate (the keystore state switched off); each is reported as users/s on the wall clock and as
// users per CPU second of all its processes, the figure that a loaded machine moves least.
// (2) --kdf-profile interactive --jobs 2 (steady rate: two runs of different sizes) against
// twice libsodium's own Argon2id rate (and, for the record, two threads of it at once, which
// memory bandwidth keeps below twice one); (3) against a shell loop of pkcs11-tool, one key pair
// (generate + delete) per user. --jobs uses worker processes, not threads: SoftHSM 2.6.1 does
// not scale with threads in one process. Raw PKCS#11 names appear here only because the
// baseline is, by definition, the bare C API.
#include <dlfcn.h>
#include <sched.h>
#include <p11-kit/pkcs11.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>

#include "bench/bench.h"
#include "bench/bench_workspace.h"
#include "core/pkcs11/module.h"

namespace {

namespace fs = std::filesystem;
using hsm::bench::note;
using hsm::bench::run;
using hsm::bench::Stopwatch;

const char* kPin = "bench-pin-1234";

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) throw std::runtime_error(std::string(what) + " failed: rv 0x" + std::to_string(rv));
}

// The bare loop's wall rate (users/s) and its CPU seconds per user.
struct Bare {
  double rate, cpu_per_user;
};

// The bare loop: one thread, one session, the minimum token calls per user.
Bare bare_loop(const std::string& module, long users) {
  void* lib = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) throw std::runtime_error("cannot load " + module);
  auto get_list = reinterpret_cast<CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR)>(::dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR f = nullptr;
  check(get_list(&f), "C_GetFunctionList");
  check(f->C_Initialize(nullptr), "C_Initialize");
  CK_SLOT_ID slots[8];
  CK_ULONG nslots = 8;
  check(f->C_GetSlotList(CK_TRUE, slots, &nslots), "C_GetSlotList");
  CK_SESSION_HANDLE s = 0;
  check(f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), "C_OpenSession");
  check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)kPin, std::strlen(kPin)), "C_Login");
  auto find = [&](const char* label) {
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void*)label, std::strlen(label)}};
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG n = 0;
    check(f->C_FindObjectsInit(s, t, 1), "C_FindObjectsInit");
    check(f->C_FindObjects(s, &h, 1, &n), "C_FindObjects");
    f->C_FindObjectsFinal(s);
    if (n != 1) throw std::runtime_error(std::string("no ") + label + " on the token");
    return h;
  };
  const CK_OBJECT_HANDLE wrap = find("hsmctl-mk-wrap"), derive = find("hsmctl-mk-derive");
  static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
  CK_KEY_TYPE aes = CKK_AES;
  CK_ULONG len32 = 32;
  const Stopwatch clock;
  for (long i = 0; i < users; ++i) {
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &no, 1}, {CKA_EC_PARAMS, (void*)p256, sizeof p256}, {CKA_VERIFY, &yes, 1}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
                           {CKA_EXTRACTABLE, &yes, 1}, {CKA_SIGN, &yes, 1}};
    CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0, kek = 0;
    check(f->C_GenerateKeyPair(s, &gen, pub, 3, priv, 5, &hpub, &hpriv), "C_GenerateKeyPair");
    CK_BYTE blob[256];
    CK_ULONG blob_len = sizeof blob;
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    check(f->C_WrapKey(s, &kwp, wrap, hpriv, blob, &blob_len), "C_WrapKey");
    CK_BYTE material[32];
    randombytes_buf(material, sizeof material);
    CK_KEY_DERIVATION_STRING_DATA data{material, sizeof material};
    CK_MECHANISM ecb{CKM_AES_ECB_ENCRYPT_DATA, &data, sizeof data};
    CK_ATTRIBUTE kt[] = {{CKA_CLASS, &secret, sizeof secret}, {CKA_KEY_TYPE, &aes, sizeof aes},
                         {CKA_TOKEN, &no, 1}, {CKA_VALUE_LEN, &len32, sizeof len32},
                         {CKA_ENCRYPT, &yes, 1}, {CKA_SENSITIVE, &yes, 1}};
    check(f->C_DeriveKey(s, &ecb, derive, kt, 6, &kek), "C_DeriveKey");
    CK_BYTE iv[12], aad[32] = {1}, out[512];
    randombytes_buf(iv, sizeof iv);
    CK_GCM_PARAMS gp{iv, sizeof iv, 96, aad, sizeof aad, 128};
    CK_MECHANISM gcm{CKM_AES_GCM, &gp, sizeof gp};
    CK_ULONG out_len = sizeof out;
    check(f->C_EncryptInit(s, &gcm, kek), "C_EncryptInit");
    check(f->C_Encrypt(s, blob, blob_len, out, &out_len), "C_Encrypt");
    f->C_DestroyObject(s, kek);
    f->C_DestroyObject(s, hpriv);
    f->C_DestroyObject(s, hpub);
  }
  const double wall = clock.wall_seconds(), cpu = clock.seconds();
  note("bare loop: %ld users in %.2f s wall, %.2f s CPU (one thread, one session)", users, wall,
       cpu);
  f->C_Logout(s);
  f->C_CloseSession(s);
  f->C_Finalize(nullptr);
  return {static_cast<double>(users) / wall, cpu / static_cast<double>(users)};
}

// The bare loop pinned to each CPU this process may run on in turn; the mean users/s. The
// affinity is restored afterwards (hsmctl's workers inherit it).
Bare bare_loop_every_core(const std::string& module, long users) {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return bare_loop(module, users);
  Bare sum{0, 0};
  int cores = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) continue;
    const Bare one_core = bare_loop(module, users);
    note("bare loop on cpu %d: %.0f users/s", cpu, one_core.rate);
    sum.rate += one_core.rate;
    sum.cpu_per_user += one_core.cpu_per_user;
    ++cores;
  }
  ::sched_setaffinity(0, sizeof allowed, &allowed);
  return cores > 0 ? Bare{sum.rate / cores, sum.cpu_per_user / cores} : bare_loop(module, users);
}

// Writes `users` rows to a 0600 CSV file and returns its path.
fs::path users_file(const fs::path& dir, const std::string& prefix, long users) {
  const fs::path p = dir / (prefix + ".csv");
  std::ofstream out(p);
  out << "name,password\n";
  for (long i = 0; i < users; ++i)
    out << prefix << i << ",bench-password-" << prefix << "-" << i << "\n";
  out.close();
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  return p;
}

// CPU seconds (user + system) of every waited-for descendant so far: hsmctl and its workers.
double children_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// One whole `hsmctl user provision` run of `users` new users, start-up included: its wall
// seconds and the CPU seconds of hsmctl and its workers together.
struct Run {
  double wall, cpu;
};

// `binary` is the hsmctl to run; `env` goes before it on the shell line (e.g. "HSMCTL_DIR=...").
Run provision_run(const fs::path& dir, const std::string& prefix, long users,
                  const std::string& profile, int jobs, const std::string& binary,
                  const std::string& env = "") {
  const fs::path file = users_file(dir, prefix, users);
  const double cpu_before = children_cpu_seconds();
  const Stopwatch clock;
  const std::string out = run(env + binary + " --json user provision --from " +
                              file.string() + " --kdf-profile " + profile + " --jobs " +
                              std::to_string(jobs) + " > " + (dir / "out.jsonl").string() +
                              "; grep -m1 failed " + (dir / "out.jsonl").string() +
                              " >&2; tail -1 " + (dir / "out.jsonl").string());
  const double wall = clock.wall_seconds();
  const double cpu = children_cpu_seconds() - cpu_before;
  const auto summary = nlohmann::json::parse(out)["summary"];
  if (summary["created"] != users) throw std::runtime_error("provision did not create every user");
  note("%s user provision --kdf-profile %s --jobs %d: %ld users in %.3f s wall (%.3f s "
       "sealing phase), %.2f s CPU in all processes", prefix.c_str(), profile.c_str(), jobs,
       users, wall, summary["seconds"].get<double>(), cpu);
  return {wall, cpu};
}

// Throughput of `hsmctl user provision`, like the baselines' (whose stopwatches start after
// C_Initialize and login): the users/s of the difference between a run of `users` and one of
// `users / 5`. A whole run also pays, once, what no number of users changes: exec and dynamic
// linking, three C_Initialize and logins (the parent and two workers), the transcript's begin
// and end events, the keystore's WAL checkpoint. Both figures are reported.
struct ProvisionRates {
  double steady, whole;
};

ProvisionRates provision_rates(const fs::path& dir, const std::string& prefix, long users,
                               const std::string& profile, int jobs) {
  const long few = std::max(1L, users / 5);
  const double t_few =
      provision_run(dir, prefix + "-few", few, profile, jobs, HSMCTL_BINARY).wall;
  const double t_all =
      provision_run(dir, prefix + "-all", users, profile, jobs, HSMCTL_BINARY).wall;
  const double steady = t_all > t_few ? static_cast<double>(users - few) / (t_all - t_few) : 0;
  note("hsmctl --kdf-profile %s --jobs %d: %.1f users/s steady, %.1f users/s for the whole run "
       "of %ld", profile.c_str(), jobs, steady, static_cast<double>(users) / t_all, users);
  return {steady, static_cast<double>(users) / t_all};
}

// One way of running hsmctl for the --kdf-profile min comparison: a row name, the binary and
// what goes before it on the command line.
struct Variant {
  std::string name, binary, env;
  std::vector<Run> runs;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// libsodium's own Argon2id (interactive) hashes per second, one thread.
double argon2_rate(long hashes) {
  unsigned char out[32], salt[crypto_pwhash_SALTBYTES] = {0};
  const Stopwatch clock;
  for (long i = 0; i < hashes; ++i)
    if (crypto_pwhash(out, sizeof out, "password", 8, salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
      throw std::runtime_error("crypto_pwhash failed");
  const double wall = clock.wall_seconds();
  note("libsodium Argon2id interactive: %ld hashes in %.2f s wall", hashes, wall);
  return static_cast<double>(hashes) / wall;
}

// The same hashes on two threads at once: what two cores really give, since Argon2id is bound
// by memory bandwidth (two 64 MiB passes at a time), not by the cores alone.
double argon2_rate_two_threads(long hashes_each) {
  const Stopwatch clock;
  std::atomic<bool> failed{false};
  auto work = [&] {
    unsigned char out[32], salt[crypto_pwhash_SALTBYTES] = {0};
    for (long i = 0; i < hashes_each; ++i)
      if (crypto_pwhash(out, sizeof out, "password", 8, salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        failed = true;
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  if (failed) throw std::runtime_error("crypto_pwhash failed");
  const double wall = clock.wall_seconds();
  note("libsodium Argon2id interactive, two threads: %ld hashes in %.2f s wall", 2 * hashes_each,
       wall);
  return static_cast<double>(2 * hashes_each) / wall;
}

// One pkcs11-tool process to generate a P-256 pair and one to delete it, per user.
double pkcs11_tool_rate(const std::string& module, long users) {
  const std::string base = "pkcs11-tool --module " + module + " --login --pin " + kPin + " ";
  const Stopwatch clock;
  for (long i = 0; i < users; ++i) {
    const std::string label = "pt" + std::to_string(i);
    run(base + "--keypairgen --key-type EC:prime256v1 --label " + label + " >/dev/null 2>&1");
    run(base + "--delete-object --type privkey --label " + label + " >/dev/null 2>&1");
    run(base + "--delete-object --type pubkey --label " + label + " >/dev/null 2>&1");
  }
  const double wall = clock.wall_seconds();
  note("pkcs11-tool shell loop: %ld users in %.2f s wall", users, wall);
  return static_cast<double>(users) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--users");
  const long users = flags.size ? flags.size : flags.quick ? 500 : 10000;
  if (sodium_init() < 0) return 1;
  const fs::path dir = fs::temp_directory_path() / ("hsmctl-bench-provision-" + std::to_string(::getpid()));
  try {
    hsm::bench::make_workspace(dir, kPin, HSMCTL_BINARY);
    const std::string module = hsm::p11::Module::find_softhsm();
    note("the machine is shared: the rates are wall-clock and move with other load; the "
         "baselines are measured in the same run, alternately");

    // The bare loop's one-core rate is measured on every core this process may use (pinned)
    // and averaged, before the first round and after each: the cores of a shared VM differ by
    // up to 1.6x from minute to minute (measured), and an unpinned loop lands on either, so a
    // single unpinned run makes the ratio depend on luck. Each round runs every variant once,
    // in a rotated order, each on a fresh copy of the workspace master init made.
    //
    // Variants: hsmctl as built (its allocator, HSMCTL_ALLOCATOR: jemalloc unless configured
    // out), the same objects linked with glibc's malloc and no tuning, and that glibc binary
    // with the setting the removed provisioning re-exec used to give itself (tcache_count=256,
    // set here from outside, for the record).
    std::vector<Variant> variants = {
        {HSMCTL_ALLOCATOR, HSMCTL_BINARY, "", {}},
        {"glibc", HSMCTL_GLIBC_BINARY, "", {}},
        {"glibc_tcache256", HSMCTL_GLIBC_BINARY,
         "GLIBC_TUNABLES=glibc.malloc.tcache_count=256 ", {}},
        {"nostate", HSMCTL_NOSTATE_BINARY, "", {}},
    };
    const int rounds = flags.quick ? 1 : flags.rounds;
    std::vector<Bare> bares{bare_loop_every_core(module, users)};
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t k = 0; k < variants.size(); ++k) {
        Variant& v = variants[(k + static_cast<std::size_t>(r)) % variants.size()];
        const fs::path ws = dir / "ws-run";
        fs::copy(dir / "ws", ws, fs::copy_options::recursive);
        v.runs.push_back(provision_run(dir, v.name + "-" + std::to_string(r), users, "min", 2,
                                       v.binary, "HSMCTL_DIR=" + ws.string() + " " + v.env));
        fs::remove_all(ws);
      }
      bares.push_back(bare_loop_every_core(module, users));
    }
    double bare = 0, bare_cpu = 0;
    for (const Bare& b : bares) {
      bare += b.rate / static_cast<double>(bares.size());
      bare_cpu += b.cpu_per_user / static_cast<double>(bares.size());
    }
    note("bare loop, mean of the cores, %zu times: %.0f users/s, %.0f users per CPU second",
         bares.size(), bare, 1 / bare_cpu);
    double chosen_whole = 0;
    for (const Variant& v : variants) {
      std::vector<double> rate, per_cpu;
      for (const Run& run_ : v.runs) {
        rate.push_back(static_cast<double>(users) / run_.wall);
        per_cpu.push_back(static_cast<double>(users) / run_.cpu);
      }
      const auto [lo, hi] = std::minmax_element(rate.begin(), rate.end());
      note("%s: whole run of %ld users, %zu runs: %.0f-%.0f users/s (ratio %.2f-%.2f), median "
           "%.0f; %.0f users per CPU second (all processes)", v.name.c_str(), users, rate.size(),
           *lo, *hi, *lo / bare, *hi / bare, median(rate), median(per_cpu));
      if (chosen_whole == 0) chosen_whole = median(rate);
      if (v.name == "nostate") {
        // What the keystore state costs: hsmctl as built against itself with the state off,
        // same allocator, same rounds (issue 27: within 5%).
        std::vector<double> with, without, with_cpu, without_cpu;
        for (const Run& r_ : variants.front().runs) {
          with.push_back(static_cast<double>(users) / r_.wall);
          with_cpu.push_back(static_cast<double>(users) / r_.cpu);
        }
        for (const Run& r_ : v.runs) {
          without.push_back(static_cast<double>(users) / r_.wall);
          without_cpu.push_back(static_cast<double>(users) / r_.cpu);
        }
        hsm::bench::report("provision_min_jobs2_whole_run_state_vs_nostate", median(with),
                           median(without), ">=0.95", "users/s");
        // The same per CPU second of all processes: on a loaded machine the wall-clock ratio
        // shows mostly the share of the cores each run got.
        hsm::bench::report("provision_min_jobs2_cpu_state_vs_nostate", median(with_cpu),
                           median(without_cpu), "-", "users/cpu-s");
        continue;
      }
      hsm::bench::report("provision_min_jobs2_whole_run_" + v.name + "_vs_bare_p11", median(rate),
                         bare, &v == &variants.front() ? ">=1.6" : "-", "users/s");
      // CPU work per user against the bare loop's: on two idle cores the whole-run wall ratio
      // can be at most twice this; on a loaded machine, where the wall ratio shows only the
      // share of the CPUs the run got, this is the figure that compares allocators.
      hsm::bench::report("provision_min_jobs2_cpu_" + v.name + "_vs_bare_p11", median(per_cpu),
                         1 / bare_cpu, "-", "users/cpu-s");
    }

    const long slow = flags.quick ? 10 : 40;
    const double argon = argon2_rate(flags.quick ? 4 : 20);
    const ProvisionRates inter = provision_rates(dir, "int", slow, "interactive", 2);
    hsm::bench::report("provision_interactive_jobs2_vs_2x_argon2id", inter.steady, 2 * argon,
                       ">=0.9", "users/s");
    hsm::bench::report("provision_interactive_jobs2_whole_run_vs_2x_argon2id", inter.whole,
                       2 * argon, "-", "users/s");
    const double argon_both = argon2_rate_two_threads(flags.quick ? 2 : 10);
    hsm::bench::report("provision_interactive_jobs2_vs_argon2id_2_threads", inter.steady,
                       argon_both, "-", "users/s");

    const double tool = pkcs11_tool_rate(module, flags.quick ? 10 : 40);
    hsm::bench::report("provision_min_jobs2_vs_pkcs11_tool_loop", chosen_whole, tool, "-",
                       "users/s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
