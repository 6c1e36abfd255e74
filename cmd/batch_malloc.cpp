// The re-execution with a larger glibc malloc cache (see the header).
#include "cmd/batch_malloc.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hsm::cli {

void tune_malloc_for_batch(char** argv) {
#ifdef __GLIBC__
  constexpr const char* kTunable = "glibc.malloc.tcache_count";
  if (argv == nullptr || argv[0] == nullptr) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current != nullptr && std::strstr(current, kTunable) != nullptr) return;
  const std::string before = current != nullptr ? current : "";
  const std::string value =
      (before.empty() ? "" : before + ":") + kTunable + "=" + std::to_string(kBatchTcacheCount);
  if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  std::fflush(nullptr);
  ::execv("/proc/self/exe", argv);
  // Still here: no /proc, or the binary cannot be executed again. Run untuned.
  if (current != nullptr)
    ::setenv("GLIBC_TUNABLES", before.c_str(), 1);
  else
    ::unsetenv("GLIBC_TUNABLES");
#else
  (void)argv;
#endif
}

}  // namespace hsm::cli
