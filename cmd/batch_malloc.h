// Batch commands (user provision) run with a larger glibc per-thread malloc cache: SoftHSM and
// OpenSSL allocate and free dozens of equal-sized blocks for every key, which overflow glibc's
// default cache of 7 blocks per size and send each free down the slow path. The cache size is
// a glibc tunable, read only when a process starts, so the command re-executes itself once
// with it set. See hsmctl-user(1), ENVIRONMENT.
#pragma once

namespace hsm::cli {

// The tcache_count hsmctl asks glibc for.
inline constexpr int kBatchTcacheCount = 256;

// Returns at once when GLIBC_TUNABLES already names glibc.malloc.tcache_count (the user chose
// a value: theirs is kept), in the process it started itself (HSMCTL_MALLOC_REEXEC, which it
// then removes), in secure-execution mode, or when this is not glibc. Otherwise adds the
// tunable to GLIBC_TUNABLES and executes /proc/self/exe with `argv`, the same command line; if
// that fails it restores the environment and returns, the command then runs with glibc's
// default. Call it before anything is read or opened: nothing of this process survives the
// exec but its environment and open descriptors.
void tune_malloc_for_batch(char** argv);

}  // namespace hsm::cli
