// What every benchmark program shares: a monotonic stopwatch, the common flags, and the one
// machine-readable result line that scripts/bench collects. Benchmarks measure and report; they
// never assert a figure and never fail because a machine is slow.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <algorithm>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace hsm::bench {

// The CPU seconds (user and system) of every child process this one has waited for so far.
inline double children_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// The median of `v` (of an even count, the upper middle value); 0 when `v` is empty.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Times the calling thread's CPU, not the wall: the machines these run on are shared, and a
// single-threaded loop's CPU time does not count the time other processes hold the cores (it
// still grows when they thrash the caches: compare ratios, and re-run when figures look odd).
// wall_seconds() is there for notes.
class Stopwatch {
 public:
  Stopwatch() : wall_(std::chrono::steady_clock::now()), cpu_(thread_cpu()) {}
  double seconds() const { return thread_cpu() - cpu_; }
  double wall_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
  }

 private:
  static double thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
};

// One result: `measured` and `baseline` in `unit`, both taken in this run. The ratio is always
// measured / baseline; `target` says which way is good (">=0.5" for a throughput that must keep
// half of the bare loop's, "<=3" for a time, "-" when there is none).
// Format: BENCH <name> <measured> <baseline> <ratio> <target> <unit>  (no spaces inside fields)
inline void report(std::string_view name, double measured, double baseline,
                   std::string_view target, std::string_view unit) {
  std::printf("BENCH %.*s %.6g %.6g %.3f %.*s %.*s\n", static_cast<int>(name.size()), name.data(),
              measured, baseline, baseline > 0 ? measured / baseline : 0.0,
              static_cast<int>(target.size()), target.data(), static_cast<int>(unit.size()),
              unit.data());
  std::fflush(stdout);
}

// Free-form detail for a human reader; scripts/bench shows it only with --verbose.
__attribute__((format(printf, 1, 2))) inline void note(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::printf("# ");
  std::vprintf(format, args);
  std::printf("\n");
  std::fflush(stdout);
  va_end(args);
}

// The flags every benchmark program accepts: --quick (a smaller run for a smoke test),
// --size N (the benchmark's own unit of work: entries, runs, users...) and --rounds N (how many
// times a benchmark that alternates its measurements repeats them). Exits 2 on anything else.
struct Flags {
  bool quick = false;
  long size = 0;    // 0: the benchmark's default
  int rounds = 3;
};

inline Flags parse_flags(int argc, char** argv, std::string_view size_flag) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      f.quick = true;
    } else if (a == "--rounds" && i + 1 < argc) {
      f.rounds = std::atoi(argv[++i]);
      if (f.rounds <= 0 || f.rounds > 100) {
        std::fprintf(stderr, "%s: --rounds wants an integer from 1 to 100\n", argv[0]);
        std::exit(2);
      }
    } else if ((a == "--size" || a == size_flag) && i + 1 < argc) {
      char* end = nullptr;
      f.size = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || f.size <= 0) {
        std::fprintf(stderr, "%s: %.*s wants a positive integer\n", argv[0],
                     static_cast<int>(a.size()), a.data());
        std::exit(2);
      }
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--rounds N] [%.*s N]\n", argv[0],
                   static_cast<int>(size_flag.size()), size_flag.data());
      std::exit(2);
    }
  }
  return f;
}

}  // namespace hsm::bench
