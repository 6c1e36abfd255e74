// Crash and pause points for the crash-consistency and race tests. In builds without
// HSMCTL_TEST_HOOKS this is a no-op the compiler removes; with it, HSMCTL_CRASH_AT=<name>[:<n>]
// makes the process SIGKILL itself the n-th time (default 1st) it passes the named point, and
// HSMCTL_PAUSE_AT=<name>:<path> makes the first pass create <path>.reached and wait (up to a
// minute) until <path> exists, so that a test can act in between. test_knob lets a test shrink
// a size (HSMCTL_TEST_<NAME>=n) so that a few rows exercise what many rows would.
#pragma once

#include <cstddef>

namespace hsm {

#ifdef HSMCTL_TEST_HOOKS
void test_hook(const char* point);
std::size_t test_knob(const char* env_name, std::size_t fallback);
#else
inline void test_hook(const char*) {}
inline std::size_t test_knob(const char*, std::size_t fallback) { return fallback; }
#endif

}  // namespace hsm
