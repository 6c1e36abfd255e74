// Runs one step of a plan as a child process of this same binary (/proc/self/exe), so each step
// is its own ceremony exactly as if typed by hand. Secrets reach the child only through pipes
// read as `fd:N` sources: never argv, never the environment.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/secure/secret.h"

namespace hsm {

struct ChildRun {
  // Secrets to hand over, one pipe each.
  std::vector<const Secret*> secrets;
  // Builds the child's arguments (after argv[0]) from the "fd:N" source of each secret.
  std::function<std::vector<std::string>(const std::vector<std::string>& fd_sources)> args;
  bool stdout_to_stderr = false;  // keeps the parent's stdout for its own JSON document
  std::string cwd;                // empty: the parent's
};

// Runs the child to completion; returns its exit code (128 + signal when it was killed).
int run_self(const ChildRun& run);

}  // namespace hsm
