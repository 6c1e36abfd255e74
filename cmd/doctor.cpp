// doctor: the workspace's consistency check (keystore vs transcript vs token), for admins after
// an interruption and for the crash tests. Exit 0 when consistent, 4 when a problem is found.
#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "ceremonies/doctor/doctor.h"
#include "ceremonies/transcript/fleet_ops.h"
#include "cmd/cli.h"
#include "core/error.h"

namespace hsm::cli {

void add_doctor_commands(Cli& cli) {
  struct Args {
    bool offline = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = cli.app.add_subcommand(
      "doctor", "check that the keystore, the transcript and the token agree (reads only)");
  cmd->add_flag("--offline", args->offline,
                "check the workspace files only, without logging in to the token");
  with_example(cmd, "hsmctl --token ceremony-2026 doctor --json");
  cmd->callback([&cli, args] {
    cli.action = [&cli, args] {
      Workspace ws(cli.workspace_options());
      const auto findings = doctor(ws, {!args->offline});
      int problems = 0;
      nlohmann::json list = nlohmann::json::array();
      for (const auto& f : findings) {
        if (f.status == "problem") ++problems;
        list.push_back({{"check", f.check}, {"status", f.status}, {"detail", f.detail}});
      }
      nlohmann::json doc{{"ok", problems == 0}, {"problems", problems}, {"findings", list}};
      // A fleet's node: the entries each node appended to the fleet's transcript.
      if (ws.is_fleet()) doc["nodes"] = fleet_nodes(ws);
      cli.emit(doc,
               [&](std::ostream& out) {
                 // Column widths from the longest status and check name, so a long check
                 // name never pushes its detail out of the column.
                 std::size_t status_w = 6, check_w = 5;
                 for (const auto& f : findings) {
                   status_w = std::max(status_w, f.status.size());
                   check_w = std::max(check_w, f.check.size());
                 }
                 if (!findings.empty())
                   out << fmt::format("{:<{}}  {:<{}}  {}\n", "STATUS", status_w, "CHECK",
                                      check_w, "DETAIL");
                 for (const auto& f : findings)
                   out << fmt::format("{:<{}}  {:<{}}  {}\n", f.status, status_w, f.check,
                                      check_w, f.detail);
                 out << (problems == 0 ? "workspace consistent\n"
                                       : fmt::format("{} problem(s) found\n", problems));
               });
      return problems == 0 ? 0 : exit_code(Category::integrity);
    };
  });
}

}  // namespace hsm::cli
