// ceremony validate | diff | plan-example (and run, in ceremony_run.cpp): scripted ceremonies.
#include "cmd/ceremony.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "ceremonies/plans/plan_diff.h"
#include "ceremonies/plans/plan_example.h"
#include "ceremonies/plans/plan_rules.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm::cli {

namespace {

// Parses the step's command line with a fresh copy of hsmctl's own CLI11 definitions (their
// actions are never called). Returns whether it parsed, so the value checks run only then.
bool check_step_options(const PlanStep& s, PlanProblems& out) {
  const std::string where = fmt::format("step {} ({})", s.number, s.run);
  const int run_line = s.run_line != 0 ? s.run_line : s.line;
  if (s.path.empty()) {
    if (s.run_line != 0) out.add(run_line, where + ": run names no command");
    return false;
  }
  if (s.path.front() == "ceremony") {
    out.add(run_line, where + ": a plan cannot run 'ceremony' commands");
    return false;
  }
  if (s.run == "token init") {
    out.add(run_line, where + ": write init_token = true in [ceremony] instead; the token is "
                              "initialised before the plan begins");
    return false;
  }
  Cli fresh;
  add_all_commands(fresh);
  fresh.app.require_subcommand(1);
  CLI::App* a = &fresh.app;
  for (const auto& word : s.path) {
    CLI::App* sub = nullptr;
    try {
      sub = a->get_subcommand(word);
    } catch (const CLI::OptionNotFound&) {
    }
    if (sub == nullptr || word.front() == '-') {
      out.add(run_line, fmt::format("{}: '{}' is not an hsmctl command; see 'hsmctl{} --help'",
                                    where, s.run, a == &fresh.app ? "" : " " + a->get_name()));
      return false;
    }
    a = sub;
  }
  if (!a->get_subcommands([](CLI::App*) { return true; }).empty()) {
    out.add(run_line, fmt::format("{}: '{}' is a group; name one of its commands (see 'hsmctl "
                                  "{} --help')", where, s.run, s.run));
    return false;
  }
  // Options the command does not have are each a problem; the rest is parsed together.
  PlanStep known = s;
  std::erase_if(known.args, [&](const PlanArg& arg) {
    if (global_option_names().contains(arg.key)) {
      out.add(arg.line, fmt::format("{}: --{} is a global option; 'ceremony run' gives the same "
                                    "one to every step", where, arg.key));
      return true;
    }
    if (a->get_option_no_throw("--" + arg.key) == nullptr) {
      out.add(arg.line, fmt::format("{}: '{}' has no option --{}; see 'hsmctl {} --help'", where,
                                    s.run, arg.key, s.run));
      return true;
    }
    return false;
  });
  std::vector<std::string> args = known.command();
  std::reverse(args.begin(), args.end());
  try {
    fresh.app.parse(args);
  } catch (const CLI::ParseError& e) {
    out.add(s.line_for(e.what()), fmt::format("{}: {}", where, e.what()));
    return false;
  }
  return true;
}

}  // namespace

std::optional<Plan> checked_plan(const std::string& path, PlanProblems& problems,
                                 std::string* text) {
  Plan plan = read_plan(path, problems, text);
  if (plan.steps.empty() && !problems.empty()) return std::nullopt;
  std::vector<bool> parsed;
  for (const auto& s : plan.steps) parsed.push_back(check_step_options(s, problems));
  check_plan(plan, parsed, problems);
  if (!problems.empty()) return std::nullopt;
  return plan;
}

Plan validated_plan(const std::string& path, std::string* text) {
  PlanProblems problems;
  if (auto plan = checked_plan(path, problems, text)) return *plan;
  const auto all = problems.sorted();
  // One "hsmctl: error: PLAN:LINE: message" line per problem; the last through main's report.
  for (std::size_t i = 0; i + 1 < all.size(); ++i)
    std::cerr << fmt::format("hsmctl: error: {}:{}: {}\n", path, all[i].first, all[i].second);
  fail(Category::usage, fmt::format("{}:{}: {}", path, all.back().first, all.back().second));
}

void add_ceremony_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("ceremony", "scripted ceremonies: check a plan, rehearse "
                                       "it on a throwaway token, run it live, compare the records");
  group->require_subcommand(1);
  add_ceremony_run(cli, group);

  auto vpath = std::make_shared<std::string>();
  auto* validate = group->add_subcommand("validate", "check a whole plan (options, thresholds, "
                                         "key labels) without touching any token");
  validate->add_option("PLAN", *vpath, "plan file (TOML, see hsmctl-plan(5))")->required();
  with_example(validate, "hsmctl ceremony validate root-2026.toml");
  validate->callback([&cli, vpath] {
    cli.action = [&cli, vpath] {
      if (cli.globals.json) {  // the problems as a document too, before the error lines
        PlanProblems problems;
        if (!checked_plan(*vpath, problems)) {
          nlohmann::json list = nlohmann::json::array();
          for (const auto& [line, message] : problems.sorted())
            list.push_back({{"line", line}, {"message", message}});
          cli.emit({{"file", *vpath}, {"ok", false}, {"problems", list}}, [](std::ostream&) {});
        }
      }
      const Plan p = validated_plan(*vpath);
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : p.steps)
        steps.push_back({{"step", s.number}, {"line", s.line}, {"run", s.run},
                         {"title", s.title()}, {"args", s.argv()}});
      cli.emit({{"plan", p.name}, {"file", *vpath}, {"ok", true}, {"steps", steps}},
               [&](std::ostream& out) {
                 out << fmt::format("plan '{}' OK: {} steps\n", p.name, p.steps.size());
                 for (const auto& s : p.steps)
                   out << fmt::format("  {:>2}. {}\n", s.number, s.title());
               });
      return 0;
    };
  });

  struct DiffArgs {
    std::string rehearsal, live;
  };
  auto d = std::make_shared<DiffArgs>();
  auto* diff = group->add_subcommand("diff", "show whether a live run did the same steps with "
                                     "the same public parameters as its rehearsal (exit 1 if not)");
  diff->add_option("REHEARSAL", d->rehearsal, "the rehearsal's transcript.jsonl")->required();
  diff->add_option("LIVE", d->live, "the live workspace's transcript.jsonl")->required();
  with_example(diff, "hsmctl ceremony diff /tmp/hsmctl-rehearsal-x1/workspace/transcript.jsonl "
                     "/ceremony/transcript.jsonl");
  diff->callback([&cli, d] {
    cli.action = [&cli, d] {
      const auto text = [](const std::string& p) {
        const Bytes b = read_file(p, "transcript");
        return std::string(b.begin(), b.end());
      };
      const auto r = plan_run_events(text(d->rehearsal), d->rehearsal);
      const auto l = plan_run_events(text(d->live), d->live);
      const PlanDiff pd = diff_plan_runs(r, l);
      cli.emit({{"equal", pd.equal()}, {"rehearsal_events", pd.rehearsal_events},
                {"live_events", pd.live_events}, {"differences", pd.differences}},
               [&](std::ostream& out) {
                 if (pd.equal()) {
                   out << fmt::format("same plan run: {} events with the same public "
                                      "parameters\n", pd.live_events);
                   return;
                 }
                 out << "the live run differs from the rehearsal:\n";
                 for (const auto& line : pd.differences) out << "  " << line << '\n';
               });
      return pd.equal() ? 0 : 1;
    };
  });

  auto* example = group->add_subcommand("plan-example", "print a commented example plan");
  with_example(example, "hsmctl ceremony plan-example > root-2026.toml");
  example->callback([&cli] {
    cli.action = [&cli] {
      cli.emit({{"plan", plan_example()}}, [](std::ostream& out) { out << plan_example(); });
      return 0;
    };
  });
}

}  // namespace hsm::cli
