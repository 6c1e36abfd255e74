// Every state record of the transcript, folded into the last digest of each row and the last
// root, compared with the keystore's rows as they are.
#include "ceremonies/doctor/doctor_state.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace hsm {

namespace {

// "user/bob" -> "user 'bob'"; "master" stays.
std::string row_name(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return key;
  return fmt::format("{} '{}'", key.substr(0, slash), key.substr(slash + 1));
}

}  // namespace

void keystore_state_checks(keystore::Keystore& ks, const std::string& transcript,
                           std::vector<DoctorFinding>& out) {
  std::map<std::string, std::pair<std::uint64_t, std::string>> recorded;  // key -> (seq, digest)
  std::optional<std::pair<std::uint64_t, std::string>> root;
  std::istringstream lines(transcript);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"state\":{\"root\":\"") == std::string::npos) continue;
    const auto e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_object() || !e.contains("data") || !e["data"].is_object()) continue;
    const auto& data = e["data"];
    const auto st = data.find("state");
    if (st == data.end() || !st->is_object() || !st->contains("root")) continue;
    const std::uint64_t seq = e.value("seq", std::uint64_t{0});
    root = std::make_pair(seq, (*st)["root"].get<std::string>());
    if (const auto rows = st->find("rows"); rows != st->end() && rows->is_object())
      for (const auto& [key, digest] : rows->items())
        if (digest.is_string()) recorded[key] = {seq, digest.get<std::string>()};
  }
  if (!root) {
    out.push_back({"state", "note", "the transcript records no keystore state yet (a workspace "
                                    "made before hsmctl recorded it); the next ceremony that "
                                    "changes the keystore records it"});
    return;
  }
  std::map<std::string, std::string> actual;
  for (const std::string& key : ks.all_row_keys()) actual[key] = ks.row_digest(key);
  std::size_t problems = 0;
  for (const auto& [key, digest] : actual) {
    const auto r = recorded.find(key);
    std::string what;
    if (r == recorded.end())
      what = "is in the keystore, but the transcript never recorded it (the keystore was edited)";
    else if (r->second.second.empty())
      what = fmt::format("is in the keystore, but the transcript recorded it deleted (seq {})",
                         r->second.first);
    else if (r->second.second != digest)
      what = fmt::format("is not what the transcript recorded last (seq {}): edited, or "
                         "restored from an older copy", r->second.first);
    if (what.empty()) continue;
    ++problems;
    out.push_back({"state:" + key, "problem", row_name(key) + " " + what});
  }
  for (const auto& [key, last] : recorded) {
    if (last.second.empty() || actual.contains(key)) continue;
    ++problems;
    out.push_back({"state:" + key, "problem",
                   fmt::format("{} was recorded (seq {}) but is missing from the keystore",
                               row_name(key), last.first)});
  }
  if (problems > 0) return;
  if (ks.computed_root() != root->second) {
    out.push_back({"state", "problem", fmt::format("the keystore's rows do not make the state "
                                                   "root the transcript recorded last (seq {})",
                                                   root->first)});
    return;
  }
  out.push_back({"state", "ok", fmt::format("{} rows are as the transcript recorded them; state "
                                            "root of seq {}", actual.size(), root->first)});
}

}  // namespace hsm
