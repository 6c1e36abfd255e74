// Ceremony plans from TOML through toml++ (never a hand-written parser). Strict: every key is
// known, every value has the right type, and each error names its line.
#include "ceremonies/plans/plan.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hsm {

namespace {

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

std::string scalar(const Plan& p, const toml::node& n, const std::string& what) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  plan_error(p, line_of(n), fmt::format("{} must be a string or an integer", what));
}

std::string string_value(const Plan& p, const toml::node& n, const std::string& what) {
  if (const auto* s = n.as_string()) return s->get();
  plan_error(p, line_of(n), fmt::format("{} must be a string", what));
}

std::vector<std::string> string_list(const Plan& p, const toml::node& n, const std::string& what) {
  const auto* a = n.as_array();
  if (a == nullptr) plan_error(p, line_of(n), fmt::format("{} must be an array of strings", what));
  std::vector<std::string> out;
  for (const auto& e : *a) out.push_back(scalar(p, e, what + " entries"));
  return out;
}

void read_ceremony(Plan& p, const toml::node& node) {
  const auto* t = node.as_table();
  if (t == nullptr) plan_error(p, line_of(node), "'ceremony' must be a table: [ceremony]");
  for (const auto& [key, n] : *t) {
    const std::string k(key.str());
    if (k == "name") p.name = string_value(p, n, "ceremony.name");
    else if (k == "token") p.token = string_value(p, n, "ceremony.token");
    else if (k == "description") p.description = string_value(p, n, "ceremony.description");
    else if (k == "witnesses") p.witnesses = string_list(p, n, "ceremony.witnesses");
    else if (k == "roles") p.roles = string_list(p, n, "ceremony.roles");
    else if (k == "init_token") {
      if (!n.is_boolean()) plan_error(p, line_of(n), "ceremony.init_token must be true or false");
      p.init_token = n.as_boolean()->get();
    } else {
      plan_error(p, line_of(n), fmt::format("unknown key 'ceremony.{}' (known: name, token, "
                                            "description, witnesses, roles, init_token)", k));
    }
  }
  if (p.name.empty()) plan_error(p, line_of(node), "[ceremony] needs a name = \"...\"");
}

void read_args(const Plan& p, PlanStep& s, const toml::table& t) {
  for (const auto& [key, n] : t) {
    PlanArg a;
    a.key = std::string(key.str());
    a.line = line_of(n);
    const std::string what = fmt::format("step.args.{}", a.key);
    if (a.key.empty() || a.key.front() == '-')
      plan_error(p, a.line, fmt::format("write option '{}' without leading dashes", a.key));
    if (const auto* b = n.as_boolean()) {
      if (!b->get()) continue;  // false: the flag is not given
      a.flag = true;
    } else if (n.is_array()) {
      a.values = string_list(p, n, what);
    } else {
      a.values.push_back(scalar(p, n, what));
    }
    s.args.push_back(std::move(a));
  }
}

PlanStep read_step(const Plan& p, const toml::table& t, int number) {
  PlanStep s;
  s.number = number;
  s.line = line_of(t);
  for (const auto& [key, n] : t) {
    const std::string k(key.str());
    if (k == "run") s.run = string_value(p, n, "step.run");
    else if (k == "name") s.name = string_value(p, n, "step.name");
    else if (k == "roles") s.roles = string_list(p, n, "step.roles");
    else if (k == "witnesses") s.witnesses = string_list(p, n, "step.witnesses");
    else if (k == "positional") s.positional = string_list(p, n, "step.positional");
    else if (k == "args") {
      if (!n.is_table()) plan_error(p, line_of(n), "step.args must be a table: [step.args]");
      read_args(p, s, *n.as_table());
    } else {
      plan_error(p, line_of(n), fmt::format("unknown key 'step.{}' (known: run, name, roles, "
                                            "witnesses, positional, [step.args])", k));
    }
  }
  if (s.run.empty()) plan_error(p, s.line, fmt::format("step {} needs run = \"GROUP COMMAND\"", number));
  std::istringstream words(s.run);
  for (std::string w; words >> w;) s.path.push_back(w);
  return s;
}

}  // namespace

void plan_error(const Plan& plan, int line, const std::string& message) {
  fail(Category::usage, fmt::format("{}:{}: {}", plan.source, line, message));
}

std::vector<std::string> PlanStep::argv() const {
  std::vector<std::string> out(positional);
  for (const auto& a : args) {
    if (a.flag) out.push_back("--" + a.key);
    for (const auto& v : a.values) {
      out.push_back("--" + a.key);
      out.push_back(v);
    }
  }
  return out;
}

std::vector<std::string> PlanStep::command() const {
  std::vector<std::string> out(path);
  const auto rest = argv();
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

const PlanArg* PlanStep::arg(std::string_view key) const {
  for (const auto& a : args)
    if (a.key == key) return &a;
  return nullptr;
}

std::vector<std::string> PlanStep::list(std::string_view key) const {
  std::vector<std::string> out;
  if (const PlanArg* a = arg(key))
    for (const auto& v : a->values) {
      std::istringstream in(v);
      for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    }
  return out;
}

std::string PlanStep::title() const {
  if (!name.empty()) return name;
  std::string t = run;
  for (const auto& w : positional) t += " " + w;
  return t;
}

Plan parse_plan(std::string_view text, std::string_view source) {
  Plan p;
  p.source = std::string(source);
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    plan_error(p, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  bool have_ceremony = false;
  for (const auto& [key, n] : root) {
    const std::string k(key.str());
    if (k == "ceremony") {
      read_ceremony(p, n);
      have_ceremony = true;
    } else if (k == "step") {
      const auto* a = n.as_array();
      if (a == nullptr || !a->is_array_of_tables())
        plan_error(p, line_of(n), "steps are written as [[step]] tables");
      for (const auto& t : *a) p.steps.push_back(read_step(p, *t.as_table(), static_cast<int>(p.steps.size()) + 1));
    } else {
      plan_error(p, line_of(n), fmt::format("unknown key '{}' (known: [ceremony], [[step]])", k));
    }
  }
  if (!have_ceremony) plan_error(p, 1, "the plan needs a [ceremony] table with a name");
  if (p.steps.empty()) plan_error(p, 1, "the plan has no [[step]]");
  return p;
}

Plan read_plan(const std::string& path, std::string* text_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("plan '{}' cannot be read", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text_out != nullptr) *text_out = text.str();
  return parse_plan(text.str(), path);
}

}  // namespace hsm
