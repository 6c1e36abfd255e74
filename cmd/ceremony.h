// Shared between the two files of the `ceremony` group: checking a plan against the real
// option definitions, and the `run` subcommand.
#pragma once

#include <string>

#include "ceremonies/plans/plan.h"
#include "cmd/cli.h"

namespace hsm::cli {

// Reads a plan and checks every step by parsing its command with a fresh copy of hsmctl's own
// CLI11 definitions (nothing runs), then the semantic checks. Throws "PLAN:LINE: ..." (usage).
Plan validated_plan(const std::string& path, std::string* text = nullptr);

void add_ceremony_run(Cli& cli, CLI::App* group);

}  // namespace hsm::cli
