// Core dumps would write every secret in memory to disk: turn them off before anything else.
#include "core/secure/hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hsm {

void disable_core_dumps() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0)
    fail(Category::general, "cannot disable core dumps", std::strerror(errno));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    fail(Category::general, "cannot mark the process non-dumpable", std::strerror(errno));
}

}  // namespace hsm
