// Compares the plan run recorded in a rehearsal's transcript with the one in a live transcript:
// the same events with the same public parameters, ignoring what differs between any two runs
// (times and dates derived from them, ids, keys, hashes, heads, signatures, KCVs, serials,
// nonces, digests, tokens, and generated labels). Never needs a token.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hsm {

// The last plan run (plan.begin .. the end of plan.end) of a transcript, each entry reduced to
// {"event", "data"} without run-specific values (removed by name; in the values kept, runs of
// 16 or more hex digits become "<hex>" and RFC 3339 times "<time>"; a step's args are one
// string); transcript.* key entries are left out.
// Throws Error(integrity) when the transcript does not verify, Error(not_found) when it holds
// no plan run. `name` is for messages.
std::vector<nlohmann::json> plan_run_events(std::string_view transcript, const std::string& name);

struct PlanDiff {
  std::size_t rehearsal_events = 0, live_events = 0;
  std::vector<std::string> differences;  // the first few, as readable lines
  bool equal() const { return differences.empty(); }
};

PlanDiff diff_plan_runs(const std::vector<nlohmann::json>& rehearsal,
                        const std::vector<nlohmann::json>& live, std::size_t max_differences = 10);

}  // namespace hsm
