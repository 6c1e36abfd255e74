// plan_run_events / diff_plan_runs: verify, cut out the last plan run, strip run-specific values,
// compare entry by entry.
#include "ceremonies/plans/plan_diff.h"

#include <fmt/format.h>

#include <sstream>

#include "core/error.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/verify.h"

namespace hsm {

namespace {

// Values that differ between any two runs of the same plan, or between a soft token and the
// real one: never public parameters of the ceremony.
bool run_specific(const std::string& key) {
  static const char* const exact[] = {"time", "seq", "ceremony", "hash", "prev", "sig", "key_id",
                                      "id", "identifier", "serial", "token", "token_serial",
                                      "module", "tool", "public_key", "created", "created_seq",
                                      "head", "actor", "account", "rehearsal",
                                      "blob"};
  for (const char* e : exact)
    if (key == e) return true;
  static const char* const parts[] = {"sha256", "digest", "signature", "fingerprint", "kcv",
                                      "commitment", "serial"};
  for (const char* p : parts)
    if (key.find(p) != std::string::npos) return true;
  return false;
}

nlohmann::json strip(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items())
      if (!run_specific(k)) out[k] = strip(v);
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(strip(v));
    return out;
  }
  return j;
}

std::string describe(const nlohmann::json& e) {
  std::string what = e["event"].get<std::string>();
  if (e["data"].contains("what")) what += " (" + e["data"]["what"].get<std::string>() + ")";
  return what;
}

}  // namespace

std::vector<nlohmann::json> plan_run_events(std::string_view transcript, const std::string& name) {
  const auto report = transcript::verify_transcript(transcript, {});
  if (!report.ok)
    fail(Category::integrity, fmt::format("transcript '{}' does not verify (seq {}: {}); "
                                          "compare only transcripts that verify", name,
                                          report.bad_seq.value_or(0), report.reason));
  std::vector<nlohmann::json> all;
  std::istringstream in{std::string(transcript)};
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) all.push_back(transcript::parse_canonical_line(line));
  std::size_t begin = all.size();
  for (std::size_t i = all.size(); i-- > 0;)
    if (all[i]["event"] == "plan.begin") {
      const auto id = all[i]["ceremony"];
      begin = i;
      while (begin > 0 && all[begin - 1]["ceremony"] == id) --begin;
      break;
    }
  if (begin == all.size())
    fail(Category::not_found, fmt::format("transcript '{}' holds no plan run (no plan.begin "
                                          "event); was it made by 'hsmctl ceremony run'?", name));
  std::vector<nlohmann::json> out;
  for (std::size_t i = begin; i < all.size(); ++i) {
    const auto& e = all[i];
    const std::string event = e["event"];
    if (event.rfind("transcript.", 0) != 0 && event.rfind("ceremony.unsigned-", 0) != 0)
      out.push_back({{"event", event}, {"data", strip(e["data"])}});
    if (event == "ceremony.end" && e["data"].value("what", "") == "plan.end") break;
  }
  return out;
}

PlanDiff diff_plan_runs(const std::vector<nlohmann::json>& rehearsal,
                        const std::vector<nlohmann::json>& live, std::size_t max_differences) {
  PlanDiff d;
  d.rehearsal_events = rehearsal.size();
  d.live_events = live.size();
  const std::size_t n = std::min(rehearsal.size(), live.size());
  for (std::size_t i = 0; i < n && d.differences.size() < max_differences; ++i) {
    const auto& a = rehearsal[i];
    const auto& b = live[i];
    if (a["event"] != b["event"]) {
      d.differences.push_back(fmt::format("event {}: rehearsal has {}, live has {}", i + 1,
                                          describe(a), describe(b)));
      continue;
    }
    for (const auto& op : nlohmann::json::diff(a["data"], b["data"])) {
      if (d.differences.size() >= max_differences) break;
      const nlohmann::json::json_pointer at(op["path"].get<std::string>());
      const std::string was = a["data"].contains(at) ? a["data"][at].dump() : "absent";
      const std::string now = b["data"].contains(at) ? b["data"][at].dump() : "absent";
      d.differences.push_back(fmt::format("event {} {}: {} is {} in the rehearsal, {} live",
                                          i + 1, describe(a), op["path"].get<std::string>(), was, now));
    }
  }
  if (rehearsal.size() != live.size() && d.differences.size() < max_differences) {
    const bool more_live = live.size() > rehearsal.size();
    d.differences.push_back(fmt::format(
        "the rehearsal has {} events, the live run {}; first {} only in the {}: {}",
        rehearsal.size(), live.size(), "event", more_live ? "live run" : "rehearsal",
        describe(more_live ? live[n] : rehearsal[n])));
  }
  return d;
}

}  // namespace hsm
