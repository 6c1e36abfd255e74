// The command facts table and the plan checks and rehearsal plumbing built on it.
#include "ceremonies/plans/plan_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>

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
    {.run = "backup restore", .needs_quorum = true,
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

int int_arg(const Plan& p, const PlanStep& s, const char* key) {
  const PlanArg* a = s.arg(key);
  if (a == nullptr || a->values.size() != 1) return -1;
  int v = -1;
  const std::string& t = a->values.front();
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size())
    plan_error(p, a->line, fmt::format("step {} ({}): --{} must be a whole number, not '{}'",
                                       s.number, s.run, key, t));
  return v;
}

void check_names(const Plan& p, const PlanStep& s, const std::vector<std::string>& names,
                 const std::vector<std::string>& known, const char* what) {
  for (const auto& n : names)
    if (std::find(known.begin(), known.end(), n) == known.end())
      plan_error(p, s.line, fmt::format("step {} ({}): {} '{}' is not listed in [ceremony] {}",
                                        s.number, s.run, what, n, what == std::string("role")
                                                                      ? "roles" : "witnesses"));
}

void check_shares(const Plan& p, const PlanStep& s) {
  const auto custodians = s.list("custodians");
  const int m = int_arg(p, s, "threshold");
  const int line = s.arg("threshold") != nullptr ? s.arg("threshold")->line : s.line;
  std::set<std::string> seen;
  for (const auto& c : custodians)
    if (!seen.insert(c).second)
      plan_error(p, s.arg("custodians")->line,
                 fmt::format("step {} ({}): custodian '{}' is named twice", s.number, s.run, c));
  const int n = static_cast<int>(custodians.size());
  if (n > 16)
    plan_error(p, s.arg("custodians")->line, fmt::format("step {} ({}): {} custodians; at most 16",
                                                         s.number, s.run, n));
  if (m > n)
    plan_error(p, line, fmt::format("step {} ({}): threshold {} is more than the {} custodians: "
                                    "the master could never be restored", s.number, s.run, m, n));
  if (m < 1)
    plan_error(p, line, fmt::format("step {} ({}): threshold must be at least 1", s.number, s.run));
  if (m == 1 && (n > 1 || s.arg("allow-single-custodian") == nullptr))
    plan_error(p, line, fmt::format("step {} ({}): threshold 1 (a 1-of-{} share set) lets one "
                                    "person restore the master; it is allowed only with a single "
                                    "custodian and allow-single-custodian; otherwise use a "
                                    "threshold of 2 or more", s.number, s.run, n));
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

void check_plan_semantics(const Plan& p) {
  std::map<std::string, int> made;  // key label -> step that makes it
  for (const auto& s : p.steps) {
    check_names(p, s, s.roles, p.roles, "role");
    check_names(p, s, s.witnesses, p.witnesses, "witness");
    const std::string k = key_made(s);
    if (!k.empty() && !made.emplace(k, s.number).second)
      plan_error(p, s.line, fmt::format("step {} ({}): key '{}' is already made by step {}",
                                        s.number, s.run, k, made[k]));
    const CommandFacts* f = command_facts(s.run);
    if (f != nullptr && f->issues_shares) check_shares(p, s);
  }
  for (const auto& s : p.steps) {
    const std::string k = key_used(s);
    if (auto it = made.find(k); !k.empty() && it != made.end() && it->second > s.number)
      plan_error(p, s.line, fmt::format("step {} ({}) uses key '{}' before step {} makes it",
                                        s.number, s.run, k, it->second));
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
  const bool quorum = (f != nullptr && f->needs_quorum) || int_arg({}, s, "quorum") > 0 ||
                      quorum_keys_.contains(key_used(s));
  if (quorum && s.arg("shares-file") == nullptr && !quorum_file_.empty())
    s.args.push_back({"shares-file", {quorum_file_.string()}, false, s.line});
  return s.command();
}

void Rehearsal::after(const PlanStep& s) {
  if (int_arg({}, s, "quorum") > 0) quorum_keys_.insert(key_made(s));
  const CommandFacts* f = command_facts(s.run);
  if (f == nullptr || !f->issues_shares) return;
  const auto custodians = s.list("custodians");
  const int m = int_arg({}, s, "threshold");
  quorum_file_ = sandbox_ / fmt::format("quorum-step{}.shares", s.number);
  std::string shares;  // shares of a throwaway rehearsal token: not secrets worth locking up
  for (int i = 0; i < m && i < static_cast<int>(custodians.size()); ++i) {
    std::ifstream in(share_file_path(shares_dir(s), custodians[i]), std::ios::binary);
    shares.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  write_new_file(quorum_file_, as_bytes(shares), 0600);
}

}  // namespace hsm
