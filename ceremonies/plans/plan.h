// A ceremony plan (hsmctl-plan(5)): the [ceremony] table and the ordered [[step]] tables read
// from TOML, strictly (an unknown key is a problem with its line; reading goes on, so that one
// `ceremony validate` names every mistake). Knows nothing of the command line: a step is a
// subcommand path plus the arguments it will be given.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hsm {

// Every mistake found in a plan: a line and a message, reported together as PLAN:LINE: message.
class PlanProblems {
 public:
  // An exact repeat (same line, same message) is dropped.
  void add(int line, std::string message);
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  // By line, then in the order found.
  std::vector<std::pair<int, std::string>> sorted() const;

 private:
  std::vector<std::pair<int, std::string>> list_;
};

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
  int run_line = 0, positional_line = 0, roles_line = 0, witnesses_line = 0;  // 0: not given
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
  // The line a message about this step belongs to: the option it names ("--key", one of its
  // values in quotes, or its bare name), else the positional it quotes, else the `run` line.
  int line_for(const std::string& message) const;
};

struct Plan {
  std::string source;  // file name, for messages
  std::string name, token, description;
  bool init_token = false;
  std::vector<std::string> witnesses, roles;
  std::vector<PlanStep> steps;
};

// Parses a plan, adding what is malformed to `problems` and keeping what can be read (a step
// without `run` is kept with an empty path).
Plan parse_plan(std::string_view text, std::string_view source, PlanProblems& problems);
// Reads and parses a plan file (Error(not_found) when it cannot be read).
Plan read_plan(const std::string& path, PlanProblems& problems, std::string* text_out = nullptr);

// "PLAN:LINE: message" as Error(usage).
[[noreturn]] void plan_error(const Plan& plan, int line, const std::string& message);

}  // namespace hsm
