// Process hardening done once at start-up: no core dumps, not ptrace-able by other users.
#pragma once

namespace hsm {

// setrlimit(RLIMIT_CORE, 0) and prctl(PR_SET_DUMPABLE, 0). Throws Error(general) on failure.
void disable_core_dumps();

}  // namespace hsm
