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

void check_step_options(const Plan& plan, const PlanStep& s) {
  const std::string where = fmt::format("step {} ({})", s.number, s.run);
  if (s.path.empty()) plan_error(plan, s.line, where + ": run names no command");
  if (s.path.front() == "ceremony")
    plan_error(plan, s.line, where + ": a plan cannot run 'ceremony' commands");
  if (s.run == "token init")
    plan_error(plan, s.line, where + ": write init_token = true in [ceremony] instead; the "
                                     "token is initialised before the plan begins");
  for (const auto& a : s.args)
    if (global_option_names().contains(a.key))
      plan_error(plan, a.line, fmt::format("{}: --{} is a global option; 'ceremony run' gives "
                                           "the same one to every step", where, a.key));
  Cli fresh;  // the same definitions hsmctl parses with; its actions are never called
  add_all_commands(fresh);
  fresh.app.require_subcommand(1);
  CLI::App* a = &fresh.app;
  for (const auto& word : s.path) {
    CLI::App* sub = nullptr;
    try {
      sub = a->get_subcommand(word);
    } catch (const CLI::OptionNotFound&) {
    }
    if (sub == nullptr || word.front() == '-')
      plan_error(plan, s.line, fmt::format("{}: '{}' is not an hsmctl command; see 'hsmctl{} "
                                           "--help'", where, s.run, a == &fresh.app ? "" : " " + a->get_name()));
    a = sub;
  }
  if (!a->get_subcommands([](CLI::App*) { return true; }).empty())
    plan_error(plan, s.line, fmt::format("{}: '{}' is a group; name one of its commands (see "
                                         "'hsmctl {} --help')", where, s.run, s.run));
  std::vector<std::string> args = s.command();
  std::reverse(args.begin(), args.end());
  try {
    fresh.app.parse(args);
  } catch (const CLI::ParseError& e) {
    plan_error(plan, s.line, fmt::format("{}: {}", where, e.what()));
  }
}

}  // namespace

Plan validated_plan(const std::string& path, std::string* text) {
  Plan plan = read_plan(path, text);
  for (const auto& s : plan.steps) check_step_options(plan, s);
  check_plan_semantics(plan);
  return plan;
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
