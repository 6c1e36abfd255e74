// plan_run_events / diff_plan_runs: verify, cut out the last plan run, strip run-specific values,
// compare entry by entry.
#include "ceremonies/plans/plan_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/verify.h"

namespace hsm {

namespace {

// Values that differ between any two runs of the same plan, or between a soft token and the
// real one: never public parameters of the ceremony. Dates derived from "now" (not_after,
// next_update ...) go too: the plan's own parameter (--days, --next-update) stays in plan.begin.
bool run_specific(const std::string& key) {
  static const char* const exact[] = {"time", "seq", "ceremony", "hash", "prev", "sig", "key_id",
                                      "id", "identifier", "serial", "token", "token_serial",
                                      "module", "tool", "public_key", "created", "created_seq",
                                      "head", "actor", "account", "rehearsal", "blob", "nonce",
                                      "workspace", "state"};
  for (const char* e : exact)
    if (key == e) return true;
  static const char* const parts[] = {"sha256", "digest", "signature", "fingerprint", "kcv",
                                      "commitment", "serial", "_head", "nonce", "not_before",
                                      "not_after", "_update", "_time", "_at", "_seq"};
  for (const char* p : parts)
    if (key.find(p) != std::string::npos) return true;
  return false;
}

bool hex_char(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Generated parts of a value that is kept: a run of 16 or more hex digits (a fingerprint in a
// label such as transcript-<fingerprint>, a head or id quoted in text) becomes "<hex>", an
// RFC 3339 time "<time>".
// The length of an RFC 3339 time (2026-12-06T03:10:00Z, fractions and offsets allowed) that
// starts at s[i], or 0. (No std::regex: GCC 12 warns inside it at -O1, and this is simpler.)
std::size_t time_at(const std::string& s, std::size_t i) {
  const auto digit = [&](std::size_t k) {
    return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k])) != 0;
  };
  const auto is = [&](std::size_t k, char c) { return k < s.size() && s[k] == c; };
  static constexpr const char* kShape = "dddd-dd-ddTdd:dd:dd";
  std::size_t k = i;
  for (const char* p = kShape; *p != '\0'; ++p, ++k)
    if (*p == 'd' ? !digit(k) : !is(k, *p)) return 0;
  if (is(k, '.') && digit(k + 1)) {
    ++k;
    while (digit(k)) ++k;
  }
  if (is(k, 'Z')) return k + 1 - i;
  if ((is(k, '+') || is(k, '-')) && digit(k + 1) && digit(k + 2) && is(k + 3, ':') &&
      digit(k + 4) && digit(k + 5))
    return k + 6 - i;
  return 0;
}

std::string blank_generated(const std::string& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size();) {
    if (const std::size_t n = time_at(v, i); n > 0) {
      s += "<time>";
      i += n;
    } else {
      s += v[i++];
    }
  }
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t j = i;
    while (j < s.size() && hex_char(s[j])) ++j;
    if (j - i >= 16) {
      out += "<hex>";
    } else {
      out.append(s, i, j - i);
      if (j < s.size()) out += s[j];
      ++j;
    }
    i = j;
  }
  return out;
}

nlohmann::json strip(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) {
      if (run_specific(k)) continue;
      // A step's command line as one string: a changed value is one readable difference.
      if (k == "args" && v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& a) {
            return a.is_string();
          })) {
        std::string line;
        for (const auto& a : v)
          line += (line.empty() ? "" : " ") + blank_generated(a.get<std::string>());
        out[k] = line;
        continue;
      }
      out[k] = strip(v);
    }
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(strip(v));
    return out;
  }
  if (j.is_string()) return blank_generated(j.get<std::string>());
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
  // Align the two runs on their events (longest common subsequence), so that one event more or
  // less (a share more for a higher threshold) is one difference, not every event after it.
  const std::size_t n = rehearsal.size(), m = live.size();
  std::vector<std::vector<std::uint32_t>> common(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      common[i][j] = describe(rehearsal[i]) == describe(live[j])
                         ? common[i + 1][j + 1] + 1
                         : std::max(common[i + 1][j], common[i][j + 1]);
  const auto add = [&](std::string line) {
    if (d.differences.size() < max_differences) d.differences.push_back(std::move(line));
  };
  const auto only = [](const nlohmann::json& e, std::size_t at, const char* where) {
    std::string data = e["data"].dump();
    if (data.size() > 80) data = data.substr(0, 77) + "...";
    return fmt::format("event {}: {} only in the {}: {}", at + 1, describe(e), where, data);
  };
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && describe(rehearsal[i]) == describe(live[j]) &&
        common[i][j] == common[i + 1][j + 1] + 1) {
      const auto& a = rehearsal[i];
      const auto& b = live[j];
      for (const auto& op : nlohmann::json::diff(a["data"], b["data"])) {
        const nlohmann::json::json_pointer at(op["path"].get<std::string>());
        const std::string was = a["data"].contains(at) ? a["data"][at].dump() : "absent";
        const std::string now = b["data"].contains(at) ? b["data"][at].dump() : "absent";
        add(fmt::format("event {} {}: {} is {} in the rehearsal, {} live", j + 1, describe(a),
                        op["path"].get<std::string>(), was, now));
      }
      ++i;
      ++j;
    } else if (j == m || (i < n && common[i + 1][j] >= common[i][j + 1])) {
      add(only(rehearsal[i], i, "rehearsal"));
      ++i;
    } else {
      add(only(live[j], j, "live run"));
      ++j;
    }
  }
  return d;
}

}  // namespace hsm
