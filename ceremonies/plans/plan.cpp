// Ceremony plans from TOML through toml++ (never a hand-written parser). Strict: every key is
// known, every value has the right type, and each problem names its line.
#include "ceremonies/plans/plan.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"

namespace hsm {

namespace {

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// Reading goes on after a mistake: each reader adds a problem and returns nothing.
struct Reader {
  PlanProblems& problems;

  std::optional<std::string> scalar(const toml::node& n, const std::string& what) {
    if (const auto* s = n.as_string()) return s->get();
    if (const auto* i = n.as_integer()) return std::to_string(i->get());
    problems.add(line_of(n), fmt::format("{} must be a string or an integer", what));
    return std::nullopt;
  }

  std::string string_value(const toml::node& n, const std::string& what) {
    if (const auto* s = n.as_string()) return s->get();
    problems.add(line_of(n), fmt::format("{} must be a string", what));
    return {};
  }

  std::vector<std::string> string_list(const toml::node& n, const std::string& what) {
    std::vector<std::string> out;
    const auto* a = n.as_array();
    if (a == nullptr) {
      problems.add(line_of(n), fmt::format("{} must be an array of strings", what));
      return out;
    }
    for (const auto& e : *a)
      if (auto v = scalar(e, what + " entries")) out.push_back(*v);
    return out;
  }

  void ceremony(Plan& p, const toml::node& node) {
    const auto* t = node.as_table();
    if (t == nullptr) {
      problems.add(line_of(node), "'ceremony' must be a table: [ceremony]");
      return;
    }
    for (const auto& [key, n] : *t) {
      const std::string k(key.str());
      if (k == "name") p.name = string_value(n, "ceremony.name");
      else if (k == "token") p.token = string_value(n, "ceremony.token");
      else if (k == "description") p.description = string_value(n, "ceremony.description");
      else if (k == "witnesses") p.witnesses = string_list(n, "ceremony.witnesses");
      else if (k == "roles") p.roles = string_list(n, "ceremony.roles");
      else if (k == "init_token") {
        if (n.is_boolean()) p.init_token = n.as_boolean()->get();
        else problems.add(line_of(n), "ceremony.init_token must be true or false");
      } else {
        problems.add(line_of(n), fmt::format("unknown key 'ceremony.{}' (known: name, token, "
                                             "description, witnesses, roles, init_token)", k));
      }
    }
    if (p.name.empty()) problems.add(line_of(node), "[ceremony] needs a name = \"...\"");
  }

  void args(PlanStep& s, const toml::table& t) {
    for (const auto& [key, n] : t) {
      PlanArg a;
      a.key = std::string(key.str());
      a.line = line_of(n);
      const std::string what = fmt::format("step.args.{}", a.key);
      if (a.key.empty() || a.key.front() == '-') {
        problems.add(a.line, fmt::format("write option '{}' without leading dashes", a.key));
        continue;
      }
      if (const auto* b = n.as_boolean()) {
        if (!b->get()) continue;  // false: the flag is not given
        a.flag = true;
      } else if (n.is_array()) {
        a.values = string_list(n, what);
      } else if (auto v = scalar(n, what)) {
        a.values.push_back(*v);
      } else {
        continue;
      }
      s.args.push_back(std::move(a));
    }
  }

  PlanStep step(const toml::table& t, int number) {
    PlanStep s;
    s.number = number;
    s.line = line_of(t);
    for (const auto& [key, n] : t) {
      const std::string k(key.str());
      if (k == "run") {
        s.run = string_value(n, "step.run");
        s.run_line = line_of(n);
      } else if (k == "name") {
        s.name = string_value(n, "step.name");
      } else if (k == "roles") {
        s.roles = string_list(n, "step.roles");
        s.roles_line = line_of(n);
      } else if (k == "witnesses") {
        s.witnesses = string_list(n, "step.witnesses");
        s.witnesses_line = line_of(n);
      } else if (k == "positional") {
        s.positional = string_list(n, "step.positional");
        s.positional_line = line_of(n);
      } else if (k == "args") {
        if (n.is_table()) args(s, *n.as_table());
        else problems.add(line_of(n), "step.args must be a table: [step.args]");
      } else {
        problems.add(line_of(n), fmt::format("unknown key 'step.{}' (known: run, name, roles, "
                                             "witnesses, positional, [step.args])", k));
      }
    }
    if (s.run.empty() && s.run_line == 0)
      problems.add(s.line, fmt::format("step {} needs run = \"GROUP COMMAND\"", number));
    std::istringstream words(s.run);
    for (std::string w; words >> w;) s.path.push_back(w);
    return s;
  }
};

// `opt` occurs in `message` with no letter, digit or dash on either side.
bool mentions(const std::string& message, const std::string& opt) {
  for (auto at = message.find(opt); at != std::string::npos; at = message.find(opt, at + 1)) {
    const std::size_t after = at + opt.size();
    const auto word = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
    };
    if ((at == 0 || !word(message[at - 1])) && (after == message.size() || !word(message[after])))
      return true;
  }
  return false;
}

}  // namespace

void PlanProblems::add(int line, std::string message) {
  for (const auto& [l, m] : list_)
    if (l == line && m == message) return;
  list_.emplace_back(line, std::move(message));
}

std::vector<std::pair<int, std::string>> PlanProblems::sorted() const {
  auto out = list_;
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void plan_error(const Plan& plan, int line, const std::string& message) {
  fail(Category::usage, fmt::format("{}:{}: {}", plan.source, line, message));
}

int PlanStep::line_for(const std::string& message) const {
  const auto quoted = [&](const std::string& v) {
    return !v.empty() && message.find("'" + v + "'") != std::string::npos;
  };
  for (const auto& a : args)
    if (mentions(message, "--" + a.key)) return a.line;
  for (int named = 1; named >= 0; --named)  // first an option named and quoted: "profile 'x'"
    for (const auto& a : args)
      if (named == 0 || mentions(message, a.key))
        for (const auto& v : list(a.key))
          if (quoted(v)) return a.line;
  for (const auto& v : positional)
    if (quoted(v)) return positional_line;
  for (const auto& a : args)
    if (mentions(message, a.key)) return a.line;
  return run_line != 0 ? run_line : line;
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

Plan parse_plan(std::string_view text, std::string_view source, PlanProblems& problems) {
  Plan p;
  p.source = std::string(source);
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    problems.add(static_cast<int>(e.source().begin.line), std::string(e.description()));
    return p;
  }
  Reader r{problems};
  bool have_ceremony = false;
  for (const auto& [key, n] : root) {
    const std::string k(key.str());
    if (k == "ceremony") {
      r.ceremony(p, n);
      have_ceremony = true;
    } else if (k == "step") {
      const auto* a = n.as_array();
      if (a == nullptr || !a->is_array_of_tables()) {
        problems.add(line_of(n), "steps are written as [[step]] tables");
        continue;
      }
      for (const auto& t : *a)
        p.steps.push_back(r.step(*t.as_table(), static_cast<int>(p.steps.size()) + 1));
    } else {
      problems.add(line_of(n), fmt::format("unknown key '{}' (known: [ceremony], [[step]])", k));
    }
  }
  if (!have_ceremony) problems.add(1, "the plan needs a [ceremony] table with a name");
  if (p.steps.empty()) problems.add(1, "the plan has no [[step]]");
  return p;
}

Plan read_plan(const std::string& path, PlanProblems& problems, std::string* text_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("plan '{}' cannot be read", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text_out != nullptr) *text_out = text.str();
  return parse_plan(text.str(), path, problems);
}

}  // namespace hsm
