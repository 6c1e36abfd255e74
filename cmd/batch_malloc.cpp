// The re-execution with a larger glibc malloc cache (see the header).
#include "cmd/batch_malloc.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hsm::cli {

void tune_malloc_for_batch(char** argv) {
#ifdef __GLIBC__
  constexpr const char* kTunable = "glibc.malloc.tcache_count";
  constexpr const char* kMarker = "HSMCTL_MALLOC_REEXEC";
  // Once only, whatever the environment looks like after the exec: in secure-execution mode
  // (setuid, file capabilities) glibc drops tunables, and tcache_count would never show up.
  if (std::getenv(kMarker) != nullptr) {
    ::unsetenv(kMarker);
    return;
  }
  if (argv == nullptr || argv[0] == nullptr || ::getauxval(AT_SECURE) != 0) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current != nullptr && std::strstr(current, kTunable) != nullptr) return;
  const bool had = current != nullptr;
  const std::string before = had ? current : "";  // `current` may not outlive setenv
  const std::string value =
      (before.empty() ? "" : before + ":") + kTunable + "=" + std::to_string(kBatchTcacheCount);
  if (::setenv(kMarker, "1", 1) == 0 && ::setenv("GLIBC_TUNABLES", value.c_str(), 1) == 0) {
    std::fflush(nullptr);
    ::execv("/proc/self/exe", argv);
  }
  // Still here: no /proc, or the binary cannot be executed again. Run untuned.
  ::unsetenv(kMarker);
  if (had)
    ::setenv("GLIBC_TUNABLES", before.c_str(), 1);
  else
    ::unsetenv("GLIBC_TUNABLES");
#else
  (void)argv;
#endif
}

}  // namespace hsm::cli
