// Runs a program with arguments, extra environment and stdin, capturing exit code, stdout and
// stderr. Used by end-to-end tests to drive the built hsmctl and stock tools (openssl).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hsm::test {

struct RunResult {
  int code = -1;  // exit code, or 128+signal
  std::string out, err;
  nlohmann::json json() const;  // parses `out`; fails the test on bad JSON
  // The stderr lines (for asserting "exactly one error line").
  std::vector<std::string> err_lines() const;
};

// `env` entries override (or, with an empty value and `unset`, remove) variables of this process.
RunResult run_program(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& stdin_data = {},
                      const std::vector<std::string>& unset = {});

}  // namespace hsm::test
