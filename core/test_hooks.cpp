// HSMCTL_CRASH_AT handling (test builds only).
#include "core/test_hooks.h"

#ifdef HSMCTL_TEST_HOOKS
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hsm {

namespace {

void pause_at(const char* point) {
  static const char* spec = std::getenv("HSMCTL_PAUSE_AT");
  static std::atomic<bool> paused{false};
  if (spec == nullptr) return;
  const std::string s(spec);
  const auto colon = s.find(':');
  if (colon == std::string::npos || s.compare(0, colon, point) != 0) return;
  if (paused.exchange(true)) return;
  const std::string gate = s.substr(colon + 1);
  if (FILE* f = std::fopen((gate + ".reached").c_str(), "w")) std::fclose(f);
  for (int i = 0; i < 6000 && ::access(gate.c_str(), F_OK) != 0; ++i) ::usleep(10 * 1000);
}

}  // namespace

void test_hook(const char* point) {
  pause_at(point);
  static const char* spec = std::getenv("HSMCTL_CRASH_AT");
  static int seen = 0;
  if (spec == nullptr) return;
  std::string s(spec);
  int nth = 1;
  if (const auto colon = s.rfind(':'); colon != std::string::npos) {
    nth = std::atoi(s.c_str() + colon + 1);
    s.resize(colon);
  }
  if (s != point) return;
  if (++seen == nth) ::kill(::getpid(), SIGKILL);
}

std::size_t test_knob(const char* env_name, std::size_t fallback) {
  const char* v = std::getenv(env_name);
  if (v == nullptr || *v == '\0') return fallback;
  const long n = std::atol(v);
  return n > 0 ? static_cast<std::size_t>(n) : fallback;
}

}  // namespace hsm
#endif
