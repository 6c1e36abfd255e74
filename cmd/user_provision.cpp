// user provision --from FILE [--jobs N]: batch creation of users with a progress bar on a
// terminal, one JSON line per user with --json, and a summary. Registered by cmd/user.cpp.
#include <fmt/format.h>

#include <iostream>

#include "ceremonies/users/user_provision.h"
#include "cmd/cli.h"
#include "cmd/factors.h"
#include "cmd/progress.h"
#include "core/error.h"

namespace hsm::cli {

namespace {

nlohmann::json result_json(const ProvisionResult& r) {
  nlohmann::json j{{"line", r.line}, {"name", r.name}, {"status", r.status}};
  if (!r.algorithm.empty()) j["algorithm"] = r.algorithm;
  if (!r.fingerprint.empty()) j["fingerprint"] = r.fingerprint;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

nlohmann::json group_json(const ProvisionGroupResult& g) {
  nlohmann::json j{{"name", g.name}, {"status", g.status}};
  if (!g.members.empty()) j["members"] = g.members;
  if (!g.fingerprint.empty()) j["fingerprint"] = g.fingerprint;
  if (!g.error.empty()) j["error"] = g.error;
  return {{"group", j}};
}

std::string lines_text(const std::vector<std::size_t>& lines) {
  std::string s;
  for (std::size_t i = 0; i < lines.size() && i < 10; ++i) s += (i ? ", " : "") + std::to_string(lines[i]);
  if (lines.size() > 10) s += fmt::format(" and {} more", lines.size() - 10);
  return s;
}

}  // namespace

void add_user_provision_command(Cli& cli, CLI::App* group) {
  auto o = std::make_shared<ProvisionOptions>();
  auto from = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("provision", "create many users from a CSV or JSONL file "
                                    "(resumable: users that exist are skipped)");
  cmd->add_option("--from", *from, "CSV (header name,password[,algo][,groups]) or JSONL file; it "
                  "holds passwords, so it must be yours with mode 0600 or 0400")
      ->required()->type_name("FILE");
  cmd->add_option("--format", o->format, "csv or jsonl (default: from the file's extension)")
      ->type_name("FORMAT");
  cmd->add_option("--jobs", o->jobs, "worker processes, each with its own PKCS#11 session "
                  "(default 1)")
      ->type_name("N");
  add_algorithm_option(cmd, "--algo", o->algorithm, true, "algorithm for rows that name none: "
                       "ec-p256 (default), ec-p384, rsa-3072 or ed25519 (p256 etc. too)");
  add_algorithm_option(cmd, "--group-algo", o->group_algorithm, true, "algorithm of the groups "
                       "the groups column makes: ec-p256 (default), ec-p384 or rsa-3072");
  cmd->add_option("--kdf-profile", o->kdf_profile, "Argon2id cost: interactive (default), "
                  "moderate, sensitive; min only for rehearsals and benchmarks")
      ->type_name("PROFILE");
  with_example(cmd, "hsmctl user provision --from staff.csv --jobs 2\n"
                    "  (staff.csv: name,password,algo,groups\\n"
                    "alice,\"s3cret, with comma\",p256,ops;audit)");
  cmd->callback([&cli, o, from] {
    cli.action = [&cli, o, from] {
      o->from = *from;
      o->min_password_length = min_password_length(cli);
      const bool json = cli.globals.json;
      ProgressBar bar("users");
      o->on_progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
      o->on_result = [&bar, json](const ProvisionResult& r) {
        if (json) {
          std::cout << result_json(r).dump() << "\n";
        } else if (r.status == "failed") {
          bar.finish();
          std::cerr << "hsmctl: " << printable(r.error) << "\n";
        }
      };
      Workspace ws(cli.workspace_options());
      const ProvisionSummary s = user_provision(ws, *o);
      bar.finish();
      for (const ProvisionGroupResult& g : s.groups) {
        if (json) std::cout << group_json(g).dump() << "\n";
        else if (g.status == "created")
          std::cout << fmt::format("group '{}' created with {} member{} ({})\n", printable(g.name),
                                   g.members.size(), g.members.size() == 1 ? "" : "s",
                                   g.fingerprint);
        else if (!g.error.empty()) std::cerr << "hsmctl: " << printable(g.error) << "\n";
      }
      const double rate = s.seconds > 0 ? static_cast<double>(s.created) / s.seconds : 0;
      if (json) {
        std::cout << nlohmann::json{{"summary", {{"total", s.total}, {"created", s.created},
                                                 {"skipped", s.skipped}, {"failed", s.failed},
                                                 {"failed_lines", s.failed_lines},
                                                 {"groups_failed", s.groups_failed},
                                                 {"jobs", s.jobs}, {"seconds", static_cast<std::int64_t>(s.seconds * 1000) / 1000.0},
                                                 {"ceremony", s.ceremony},
                                                 {"interrupted", s.interrupted},
                                                 {"not_done", s.not_done}}}}.dump()
                  << "\n" << std::flush;
      } else if (s.interrupted) {
        std::cout << fmt::format("{} rows: {} created, {} skipped (already exist), {} failed, {} "
                                 "not done: interrupted by {} (ceremony {}). Run the same command "
                                 "again to finish; users already created are skipped.\n",
                                 s.total, s.created, s.skipped, s.failed, s.not_done, s.signal,
                                 s.ceremony) << std::flush;
      } else {
        std::cout << fmt::format("{} rows: {} created, {} skipped (already exist), {} failed; "
                                 "{:.1f} s, {:.0f} users/s with {} job{} (ceremony {})\n",
                                 s.total, s.created, s.skipped, s.failed, s.seconds, rate, s.jobs,
                                 s.jobs == 1 ? "" : "s", s.ceremony) << std::flush;
      }
      if (s.interrupted)  // main prints the recorder's line (what was kept, what to rerun)
        fail(Category::interrupted, fmt::format("user provision interrupted by {}; run the same "
                                                "command again to finish", s.signal));
      if (s.failed > 0)
        fail(Category::general, fmt::format("{} of {} rows failed (line {}); fix them and run the "
                                            "same command again: users already created are "
                                            "skipped", s.failed, s.total,
                                            lines_text(s.failed_lines)));
      if (s.groups_failed > 0)
        fail(Category::general, fmt::format("{} group{} of the groups column could not be made "
                                            "or filled (see above)", s.groups_failed,
                                            s.groups_failed == 1 ? "" : "s"));
      return 0;
    };
  });
}

}  // namespace hsm::cli
