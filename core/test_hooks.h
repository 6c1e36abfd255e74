// Crash points for the crash-consistency tests. In builds without HSMCTL_TEST_HOOKS this is a
// no-op the compiler removes; with it, HSMCTL_CRASH_AT=<name>[:<n>] makes the process SIGKILL
// itself the n-th time (default 1st) it passes the named point.
#pragma once

namespace hsm {

#ifdef HSMCTL_TEST_HOOKS
void test_hook(const char* point);
#else
inline void test_hook(const char*) {}
#endif

}  // namespace hsm
