// transcript monitor: a key owner's view of the log, every signature made with their key (or
// by them, or with their group's key) since the checkpoint they kept last.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/transcript/monitor_ops.h"
#include "cmd/cli.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm::cli {

void add_transcript_monitor_command(Cli& cli, CLI::App* group) {
  struct Opts {
    MonitorQuery q;
    std::string since;
    std::vector<std::string> log_keys;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("monitor", "list every signature made with a key, by a user "
                                    "or with a group's key since a checkpoint you kept "
                                    "(offline; no token needed)");
  auto* key = cmd->add_option("--key", o->q.key, "a signing key's label")->type_name("LABEL");
  auto* user = cmd->add_option("--user", o->q.user, "a user: their own signatures and those "
                               "they made with a group key")->type_name("NAME");
  auto* grp = cmd->add_option("--group", o->q.group, "a group: every signature with its key")
                  ->type_name("NAME");
  key->excludes(user)->excludes(grp);
  user->excludes(grp);
  cmd->add_option("--since", o->since, "a checkpoint of this log you kept (default: from the "
                  "first entry); the log must extend it")->type_name("CHECKPOINT");
  cmd->add_option("--log-key", o->log_keys, "the log's verifier key the --since checkpoint must "
                  "be signed by (vkey or file)")->type_name("VKEY");
  with_example(cmd, "hsmctl transcript monitor --key release-2026 --since last-seen.checkpoint");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      const auto file = std::filesystem::path(cli.globals.dir) / "transcript.jsonl";
      if (!std::filesystem::exists(file))
        fail(Category::not_found, fmt::format("transcript '{}' does not exist", file.string()));
      MonitorQuery q = o->q;
      if (!o->since.empty()) {
        const Bytes b = read_file(o->since, "checkpoint");
        q.since = std::string(b.begin(), b.end());
      }
      for (const auto& k : o->log_keys) q.log_keys.push_back(vkey_arg(k));
      q.configured_origin = cli.globals.config.log_origin.value_or("");
      const MonitorReport r = monitor_signatures(file, q);
      nlohmann::json found = nlohmann::json::array();
      for (const auto& f : r.found)
        found.push_back({{"seq", f.seq}, {"time", f.time}, {"actor", f.actor},
                         {"event", f.signature.event}, {"signer", f.signature.signer},
                         {"input", f.signature.input},
                         {"input_sha256", f.signature.input_sha256},
                         {"output_sha256", f.signature.output_sha256}});
      nlohmann::json doc{{"since", r.since}, {"through", r.through}, {"signatures", found}};
      if (r.checkpoint) doc["checkpoint"] = *r.checkpoint;
      cli.emit(doc, [&](std::ostream& out) {
        for (const auto& f : r.found)
          out << fmt::format("seq {} {} {} by {} ({}){}{}\n", f.seq, f.time,
                             printable(f.signature.event), printable(f.signature.signer),
                             printable(f.actor),
                             f.signature.input.empty() ? "" : " " + printable(f.signature.input),
                             f.signature.input_sha256.empty()
                                 ? ""
                                 : " sha256 " + f.signature.input_sha256);
        if (r.since >= r.through)
          out << fmt::format("no entries since size {}", r.since);
        else
          out << fmt::format("{} signature{} in entries {} to {}", r.found.size(),
                             r.found.size() == 1 ? "" : "s", r.since, r.through - 1);
        if (r.checkpoint)
          out << fmt::format("; keep DIR/tlog/checkpoints/{} (cosigned) for the next --since",
                             *r.checkpoint);
        out << '\n';
      });
      return 0;
    };
  });
}

}  // namespace hsm::cli
