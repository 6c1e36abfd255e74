// Runs one constant-time case by name (or lists them). Meant to run under
//   valgrind --error-exitcode=99 hsmctl_ct CASE
// where a memcheck report about uninitialised values means secret-dependent control flow or
// memory access. Outside valgrind the cases are plain functional checks.
#include <cstdio>
#include <cstring>

#include "tests/ct/ct_check.h"

int main(int argc, char** argv) {
  using namespace hsm::ct_check;
  if (argc != 2) {
    std::fprintf(stderr, "usage: hsmctl_ct CASE\ncases:");
    for (const Case& c : library_cases()) std::fprintf(stderr, " %s", c.name);
    for (const Case& c : control_cases()) std::fprintf(stderr, " %s", c.name);
    std::fprintf(stderr, "\n");
    return 2;
  }
  for (auto cases : {library_cases(), control_cases()}) {
    for (const Case& c : cases) {
      if (std::strcmp(c.name, argv[1]) != 0) continue;
      if (RUNNING_ON_VALGRIND == 0) std::fprintf(stderr, "note: not under valgrind\n");
      c.run();
      std::printf("%s: ran\n", c.name);
      return 0;
    }
  }
  std::fprintf(stderr, "unknown case '%s'\n", argv[1]);
  return 2;
}
