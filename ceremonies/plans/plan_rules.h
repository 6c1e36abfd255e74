// What plans know about each hsmctl command beyond its options: which key label it makes or
// uses, whether it hands out shares or needs a quorum, and what to undo after it. One table
// (plan_rules.cpp) drives the semantic checks, the rehearsal's share plumbing and the
// "what to undo" list, so a new command is one line there.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ceremonies/plans/plan.h"

namespace hsm {

struct CommandFacts {
  const char* run;            // "key generate"
  const char* makes_key = "";  // where the label of a key it makes is: "#0" (first positional) or an option
  const char* uses_key = "";   // where the label of a key it uses is
  bool issues_shares = false;  // --threshold, --custodians, --shares-out
  bool needs_quorum = false;   // always takes --shares-file (quorum-gated)
  bool reads_positional = false;  // its first positional is a file it reads
  const char* undo = "";       // what remains after it, for a plan that stops later
};

// The facts of a subcommand path, or nullptr for a command with none.
const CommandFacts* command_facts(const std::string& run);

// Global options, which a step may not carry (the run gives them to every step).
const std::set<std::string>& global_option_names();

// Checks what the option parser cannot, adding each mistake at the line of its key: roles and
// witnesses against [ceremony]; keys used that no earlier step makes, or made twice; files read
// that neither exist nor are written by an earlier step, outputs that exist or are written
// twice; a quorum that is not the threshold of the plan's share set; and each step's values
// through the command's own checks (plan_values.cpp). `parsed[i]` says whether step i+1's
// command line parsed; the value checks skip a step whose did not (the parser said why).
void check_plan(const Plan& plan, const std::vector<bool>& parsed, PlanProblems& problems);

// The command's own checks of a step's values (algorithm, profile, threshold, custodians,
// subject, days ...), with input files known to exist or to be written by an earlier step.
void check_step_values(const Plan& plan, const PlanStep& s, PlanProblems& problems);

// Options whose values are files a step reads, or writes.
bool reads_file(const std::string& option);
bool writes_file(const std::string& option);

// The label a step makes or uses ("" when none).
std::string key_made(const PlanStep& s);
std::string key_used(const PlanStep& s);

// What to undo after the steps that have run, one line per step that left something behind.
std::vector<std::string> undo_list(const Plan& plan, int steps_done);

// A rehearsal's changes to the plan's commands: shares and --out files go into the sandbox,
// and quorum-gated steps get --shares-file with the first M shares of the latest share set.
class Rehearsal {
 public:
  explicit Rehearsal(std::filesystem::path sandbox) : sandbox_(std::move(sandbox)) {}
  // Makes the directories it names.
  std::vector<std::string> command(const PlanStep& s);
  // After step `s` succeeded: remember the quorum file and the quorum keys it made.
  void after(const PlanStep& s);

 private:
  std::filesystem::path shares_dir(const PlanStep& s) const;
  std::filesystem::path sandbox_, quorum_file_;
  std::set<std::string> quorum_keys_;
  // Files the plan writes (--out as written) and where the rehearsal wrote them, so a later
  // step that reads one (--issuer-cert root.pem) reads the rehearsal's copy.
  std::map<std::string, std::string> outputs_;
};

}  // namespace hsm
