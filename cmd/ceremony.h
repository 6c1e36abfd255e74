// Shared between the two files of the `ceremony` group: checking a plan against the real
// option definitions, and the `run` subcommand.
#pragma once

#include <optional>
#include <string>

#include "ceremonies/plans/plan.h"
#include "cmd/cli.h"

namespace hsm::cli {

// Reads a plan and checks every step by parsing its command with a fresh copy of hsmctl's own
// CLI11 definitions (nothing runs), then check_plan (keys, files, the commands' own value
// checks). Adds every problem found; the plan only when there were none.
std::optional<Plan> checked_plan(const std::string& path, PlanProblems& problems,
                                 std::string* text = nullptr);
// checked_plan for `validate` and `run`: prints one "hsmctl: error: PLAN:LINE: message" line
// per problem, sorted by line, and throws Error(usage) with the last.
Plan validated_plan(const std::string& path, std::string* text = nullptr);

void add_ceremony_run(Cli& cli, CLI::App* group);

}  // namespace hsm::cli
