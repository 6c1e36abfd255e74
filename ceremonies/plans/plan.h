// A ceremony plan (hsmctl-plan(5)): the [ceremony] table and the ordered [[step]] tables read
// from TOML, strictly (an unknown key is an error with its line). Knows nothing of the command
// line: a step is a subcommand path plus the arguments it will be given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hsm {

// One `--key value` (or, for a flag, `--key`) of a step, with the line it came from.
struct PlanArg {
  std::string key;                  // option name without "--"
  std::vector<std::string> values;  // one `--key value` per value; empty for a flag
  bool flag = false;
  int line = 0;
};

struct PlanStep {
  int number = 0;  // 1-based
  int line = 0;    // the [[step]] header
  std::string run;                // "master init"
  std::vector<std::string> path;  // {"master", "init"}
  std::string name;
  std::vector<std::string> roles, witnesses;
  std::vector<std::string> positional;
  std::vector<PlanArg> args;

  // The arguments after the subcommand path: positionals, then --key value...
  std::vector<std::string> argv() const;
  // The whole command: path, then argv().
  std::vector<std::string> command() const;
  const PlanArg* arg(std::string_view key) const;
  // All values of an option, with comma-separated lists split ("a,b" -> a, b).
  std::vector<std::string> list(std::string_view key) const;
  // Human title: "key generate root-2026" or the step's name.
  std::string title() const;
};

struct Plan {
  std::string source;  // file name, for messages
  std::string name, token, description;
  bool init_token = false;
  std::vector<std::string> witnesses, roles;
  std::vector<PlanStep> steps;
};

// Parses a plan; throws Error(usage) "SOURCE:LINE: message" for anything malformed.
Plan parse_plan(std::string_view text, std::string_view source);
// Reads and parses a plan file (Error(not_found) when it cannot be read).
Plan read_plan(const std::string& path, std::string* text_out = nullptr);

// "PLAN:LINE: message" as Error(usage).
[[noreturn]] void plan_error(const Plan& plan, int line, const std::string& message);

}  // namespace hsm
