// The command facts table and the plan checks and rehearsal plumbing built on it.
#include "ceremonies/plans/plan_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>

#include "ceremonies/master/share_groups.h"
#include "ceremonies/master/shares.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

namespace {

// One line per command that makes or uses keys, hands out shares, needs a quorum or leaves
// something behind. A new command of that kind gets a line here.
const CommandFacts kFacts[] = {
    {.run = "master init", .issues_shares = true,
     .undo = "the token holds the master key and the workspace its share set: to start again, "
             "re-initialise the token, remove the workspace's keystore.sqlite and destroy the "
             "shares handed out"},
    {.run = "master reshare", .issues_shares = true, .needs_quorum = true,
     .undo = "a new share set was issued: destroy it, or hand it out and destroy the old one"},
    {.run = "master restore", .needs_quorum = true,
     .undo = "the master key is on the token again"},
    {.run = "key generate", .makes_key = "#0",
     .undo = "key '{key}' is on the token and in the keystore: leave it unused, or start again "
             "on a re-initialised token"},
    {.run = "key export-public", .uses_key = "#0"},
    {.run = "key show", .uses_key = "#0"},
    {.run = "sign file", .uses_key = "key"},
    {.run = "sign csr", .uses_key = "key"},
    {.run = "sign cert", .uses_key = "key",
     .undo = "a certificate was issued (its serial is in the transcript): list it in the next "
             "CRL with sign crl --revoke if it must not be trusted"},
    {.run = "sign crl", .uses_key = "key",
     .undo = "the key's CRL number and revocation list moved on; the next CRL continues them"},
    {.run = "backup create", .needs_quorum = true},
    {.run = "backup verify", .needs_quorum = true, .reads_positional = true},
    {.run = "backup restore", .needs_quorum = true, .reads_positional = true,
     .undo = "the backup's keys are on the token"},
    {.run = "clone", .needs_quorum = true,
     .undo = "the target token holds the master key and the keys: re-initialise it to undo"},
};

std::string where(const PlanStep& s, std::string_view spec) {
  if (spec.empty()) return {};
  if (spec == "#0") return s.positional.empty() ? std::string() : s.positional.front();
  const PlanArg* a = s.arg(spec);
  return a != nullptr && !a->values.empty() ? a->values.front() : std::string();
}

int line_of_spec(const PlanStep& s, std::string_view spec) {
  if (spec == "#0") return s.positional_line != 0 ? s.positional_line : s.line;
  const PlanArg* a = s.arg(spec);
  return a != nullptr ? a->line : s.line;
}

std::optional<int> int_option(const PlanStep& s, const char* key) {
  const PlanArg* a = s.arg(key);
  if (a == nullptr || a->values.size() != 1) return std::nullopt;
  int v = 0;
  const std::string& t = a->values.front();
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

// The step's --group specs, or nullopt when they do not make a set (check_step_values names
// the problem).
std::optional<std::vector<ShareGroupSpec>> group_specs(const PlanStep& s) {
  std::vector<ShareGroupSpec> out;
  if (const PlanArg* a = s.arg("group"); a != nullptr) {
    try {
      for (const auto& spec : a->values) out.push_back(parse_share_group(spec));
      validate_share_groups(out, int_option(s, "group-threshold").value_or(0), true);
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  return out;
}

void check_names(const PlanStep& s, const std::vector<std::string>& names, int line,
                 const std::vector<std::string>& known, const char* what, PlanProblems& out) {
  for (const auto& n : names)
    if (std::find(known.begin(), known.end(), n) == known.end())
      out.add(line != 0 ? line : s.line,
              fmt::format("step {} ({}): {} '{}' is not listed in [ceremony] {}", s.number,
                          s.run, what, n, what == std::string("role") ? "roles" : "witnesses"));
}

// Inputs must exist or be written by an earlier step; outputs must be new, once.
void check_files(const PlanStep& s, std::map<std::string, int>& written, PlanProblems& out) {
  const auto input = [&](const std::string& v, int line, const std::string& what) {
    if (written.contains(v) || std::filesystem::is_regular_file(v)) return;
    out.add(line, fmt::format("step {} ({}): {} '{}' does not exist and no earlier step writes "
                              "it", s.number, s.run, what, v));
  };
  const CommandFacts* f = command_facts(s.run);
  if (f != nullptr && f->reads_positional && !s.positional.empty())
    input(s.positional.front(), s.positional_line, "file");
  for (const auto& a : s.args)
    if (reads_file(a.key))
      for (const auto& v : a.values) input(v, a.line, "--" + a.key);
  for (const auto& a : s.args) {
    if (!writes_file(a.key)) continue;
    for (const auto& v : a.values) {
      const std::filesystem::path path(v);
      const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
      if (auto it = written.find(v); it != written.end())
        out.add(a.line, fmt::format("step {} ({}): --{} '{}' is already written by step {}",
                                    s.number, s.run, a.key, v, it->second));
      else if (std::filesystem::exists(std::filesystem::symlink_status(path)))
        out.add(a.line, fmt::format("step {} ({}): --{} '{}' already exists; hsmctl never "
                                    "overwrites an output file: move it away or choose another "
                                    "name", s.number, s.run, a.key, v));
      else if (!std::filesystem::is_directory(dir))
        out.add(a.line, fmt::format("step {} ({}): directory '{}' for --{} does not exist",
                                    s.number, s.run, dir.string(), a.key));
      written.emplace(v, s.number);
    }
  }
}

}  // namespace

const CommandFacts* command_facts(const std::string& run) {
  for (const auto& f : kFacts)
    if (run == f.run) return &f;
  return nullptr;
}

const std::set<std::string>& global_option_names() {
  static const std::set<std::string> names{"dir", "token", "pin-source", "module", "yes", "json",
                                           "help", "version"};
  return names;
}

std::string key_made(const PlanStep& s) {
  const CommandFacts* f = command_facts(s.run);
  return f != nullptr ? where(s, f->makes_key) : std::string();
}

std::string key_used(const PlanStep& s) {
  const CommandFacts* f = command_facts(s.run);
  return f != nullptr ? where(s, f->uses_key) : std::string();
}

bool reads_file(const std::string& option) {
  static const std::set<std::string> names{"in", "issuer-cert", "csr", "cert", "shares-file",
                                           "share-file", "from", "pubkey"};
  return names.contains(option);
}

bool writes_file(const std::string& option) { return option == "out"; }

void check_plan(const Plan& p, const std::vector<bool>& parsed, PlanProblems& out) {
  std::map<std::string, int> makes;  // key label -> the first step that makes it
  for (const auto& s : p.steps)
    if (const std::string k = key_made(s); !k.empty()) makes.emplace(k, s.number);
  std::map<std::string, int> made, written;
  std::optional<int> threshold;  // of the latest share set the plan issues
  int threshold_step = 0;
  for (const auto& s : p.steps) {
    if (s.path.empty()) continue;  // no `run`: already a problem
    const CommandFacts* f = command_facts(s.run);
    const std::string where = fmt::format("step {} ({})", s.number, s.run);
    check_names(s, s.roles, s.roles_line, p.roles, "role", out);
    check_names(s, s.witnesses, s.witnesses_line, p.witnesses, "witness", out);
    if (const std::string k = key_used(s); !k.empty() && !made.contains(k)) {
      const int line = line_of_spec(s, f->uses_key);
      if (auto later = makes.find(k); later != makes.end() && later->second > s.number)
        out.add(line, fmt::format("{} uses key '{}' before step {} makes it", where, k,
                                  later->second));
      else
        out.add(line, fmt::format("{} uses key '{}', which no earlier step makes (a plan uses "
                                  "only keys it makes, so that its rehearsal can run)", where, k));
    }
    check_files(s, written, out);
    if (const auto q = int_option(s, "quorum"); q && *q > 0 && threshold && *q != *threshold)
      out.add(s.arg("quorum")->line,
              fmt::format("{}: --quorum {} must equal the threshold {} of the share set step {} "
                          "issues: a quorum key is unlocked by the master secret, which takes "
                          "exactly {} shares; use quorum = {}", where, *q, *threshold,
                          threshold_step, *threshold, *threshold));
    if (f != nullptr && f->issues_shares && int_option(s, "threshold")) {
      threshold = int_option(s, "threshold");
      threshold_step = s.number;
    } else if (f != nullptr && f->issues_shares && int_option(s, "group-threshold")) {
      if (const auto groups = group_specs(s)) {
        std::vector<int> thresholds;
        for (const auto& g : *groups) thresholds.push_back(g.threshold);
        threshold = fewest_shares(thresholds, *int_option(s, "group-threshold"));
        threshold_step = s.number;
      }
    }
    if (const std::string k = key_made(s); !k.empty()) {
      if (auto it = made.find(k); it != made.end())
        out.add(line_of_spec(s, f->makes_key),
                fmt::format("{}: key '{}' is already made by step {}", where, k, it->second));
      made.emplace(k, s.number);
    }
    if (static_cast<std::size_t>(s.number - 1) < parsed.size() && parsed[s.number - 1])
      check_step_values(p, s, out);
  }
}

std::vector<std::string> undo_list(const Plan& plan, int steps_done) {
  std::vector<std::string> out;
  for (int i = 0; i < steps_done && i < static_cast<int>(plan.steps.size()); ++i) {
    const PlanStep& s = plan.steps[i];
    const CommandFacts* f = command_facts(s.run);
    std::string text = f != nullptr ? f->undo : "";
    if (auto pos = text.find("{key}"); pos != std::string::npos) text.replace(pos, 5, key_made(s));
    if (const PlanArg* o = s.arg("out"); o != nullptr && !o->values.empty())
      text += (text.empty() ? "" : "; ") + fmt::format("remove '{}' if it must not be kept",
                                                       o->values.front());
    if (!text.empty()) out.push_back(fmt::format("step {} ({}): {}", s.number, s.title(), text));
  }
  return out;
}

std::filesystem::path Rehearsal::shares_dir(const PlanStep& s) const {
  return sandbox_ / fmt::format("shares-step{}", s.number);
}

std::vector<std::string> Rehearsal::command(const PlanStep& plan_step) {
  PlanStep s = plan_step;
  const CommandFacts* f = command_facts(s.run);
  if (f != nullptr && f->issues_shares) {
    std::erase_if(s.args, [](const PlanArg& a) { return a.key == "shares-out"; });
    std::filesystem::create_directories(shares_dir(s));
    std::filesystem::permissions(shares_dir(s), std::filesystem::perms::owner_all);
    s.args.push_back({"shares-out", {shares_dir(s).string()}, false, s.line});
  }
  for (auto& a : s.args)
    for (auto& v : a.values) {
      if (a.key == "out") {
        const std::string moved = (sandbox_ / fmt::format(
            "step{}-{}", s.number, std::filesystem::path(v).filename().string())).string();
        outputs_[v] = moved;
        v = moved;
      } else if (auto it = outputs_.find(v); it != outputs_.end()) {
        v = it->second;
      }
    }
  for (auto& v : s.positional)
    if (auto it = outputs_.find(v); it != outputs_.end()) v = it->second;
  const bool quorum = (f != nullptr && f->needs_quorum) ||
                      int_option(s, "quorum").value_or(0) > 0 ||
                      quorum_keys_.contains(key_used(s));
  if (quorum && s.arg("shares-file") == nullptr && !quorum_file_.empty())
    s.args.push_back({"shares-file", {quorum_file_.string()}, false, s.line});
  return s.command();
}

void Rehearsal::after(const PlanStep& s) {
  if (int_option(s, "quorum").value_or(0) > 0) quorum_keys_.insert(key_made(s));
  const CommandFacts* f = command_facts(s.run);
  if (f == nullptr || !f->issues_shares) return;
  // A quorum: the first M custodians, or for a set of groups the first M of each of the
  // group-threshold groups with the smallest thresholds.
  std::vector<std::string> quorum;
  if (const auto groups = group_specs(s); groups && !groups->empty()) {
    std::vector<ShareGroupSpec> by_threshold = *groups;
    std::stable_sort(by_threshold.begin(), by_threshold.end(),
                     [](const auto& a, const auto& b) { return a.threshold < b.threshold; });
    const int g = int_option(s, "group-threshold").value_or(0);
    for (int i = 0; i < g && i < static_cast<int>(by_threshold.size()); ++i) {
      const ShareGroupSpec& spec = by_threshold[static_cast<std::size_t>(i)];
      for (int j = 0; j < spec.threshold && j < static_cast<int>(spec.custodians.size()); ++j)
        quorum.push_back(spec.custodians[static_cast<std::size_t>(j)]);
    }
  } else {
    const auto custodians = s.list("custodians");
    const int m = int_option(s, "threshold").value_or(0);
    for (int i = 0; i < m && i < static_cast<int>(custodians.size()); ++i)
      quorum.push_back(custodians[static_cast<std::size_t>(i)]);
  }
  quorum_file_ = sandbox_ / fmt::format("quorum-step{}.shares", s.number);
  std::string shares;  // shares of a throwaway rehearsal token: not secrets worth locking up
  for (const auto& custodian : quorum) {
    std::ifstream in(share_file_path(shares_dir(s), custodian), std::ios::binary);
    shares.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  write_new_file(quorum_file_, as_bytes(shares), 0600);
}

}  // namespace hsm
