// backup create | verify | restore: the keys' birth escrow blobs and the keystore in one file
// that only a custodian quorum can make or restore.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/backup/backup_ops.h"
#include "cmd/cli.h"
#include "cmd/console.h"

namespace hsm::cli {

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

void add_backup_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("backup", "backup files of the workspace's keys, made and "
                                       "restored only with a custodian quorum");
  group->require_subcommand(1);

  struct CreateArgs {
    std::string out;
    std::vector<std::string> files;
  };
  auto c = std::make_shared<CreateArgs>();
  auto* create = group->add_subcommand("create", "write a backup file authenticated under a key "
                                       "derived from the master secret (needs M shares)");
  create->add_option("--out", c->out, "the backup file to write (0600; never overwrites)")
      ->type_name("FILE")->required();
  create->add_option("--shares-file", c->files, "file of shares, one mnemonic a line "
                     "(repeatable; default: typed one custodian at a time)")->type_name("F");
  with_example(create, "hsmctl backup create --out site-a-2026-11-23.hsmbk");
  create->callback([&cli, c] {
    cli.action = [&cli, c] {
      Workspace ws(cli.workspace_options());
      const auto r = backup_create(ws, c->out, share_intake(c->files));
      cli.emit({{"out", c->out}, {"kcv", r.kcv}, {"sha256", r.digest}, {"keys", r.keys},
                {"not_backed_up", r.not_backed_up}, {"transcript_seq", r.transcript_seq},
                {"transcript_head", r.transcript_head}},
               [&](std::ostream& out) {
                 out << fmt::format("backup written to {} (master KCV {}); keys: {}\n", c->out,
                                    r.kcv, joined(r.keys));
                 if (!r.not_backed_up.empty())
                   out << fmt::format("not in the backup (born on the token): {}\n",
                                      joined(r.not_backed_up));
                 out << fmt::format("SHA-256 {}\n", r.digest);
               });
      return 0;
    };
  });

  struct VerifyArgs {
    std::string file;
    std::vector<std::string> files;
    bool authenticate = false;
  };
  auto v = std::make_shared<VerifyArgs>();
  auto* verify = group->add_subcommand("verify", "check a backup file's format and list its "
                                       "contents; with shares, also its authentication");
  verify->add_option("FILE", v->file, "the backup file")->required();
  verify->add_option("--shares-file", v->files, "file of shares, one mnemonic a line "
                     "(repeatable); checks the authentication")->type_name("F");
  verify->add_flag("--authenticate", v->authenticate, "check the authentication with shares "
                   "typed one custodian at a time");
  with_example(verify, "hsmctl backup verify site-a-2026-11-23.hsmbk --authenticate");
  verify->callback([&cli, v] {
    cli.action = [&cli, v] {
      Workspace ws(cli.workspace_options());
      const bool with_shares = v->authenticate || !v->files.empty();
      const auto r = backup_verify(ws, v->file, share_intake(v->files), with_shares);
      nlohmann::json doc = describe_backup(r.contents);
      doc["sha256"] = r.digest;
      doc["authenticated"] = r.authenticated;
      doc["checked"] = r.authenticated ? "format and authentication" : "format only";
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("{}: hsmctl backup version {}, made {}, master KCV {}\n", v->file,
                           backup::kVersion, r.contents.created, r.contents.kcv);
        out << fmt::format("transcript at seq {}, head {}\n", r.contents.transcript_seq,
                           r.contents.transcript_head);
        for (const auto& k : doc["keys"])
          out << fmt::format("  key {:<24} {:<9} {:<10} escrow {}\n", k["label"].get<std::string>(),
                             k["algorithm"].get<std::string>(), k["purpose"].get<std::string>(),
                             k["escrow"].get<std::string>());
        out << (r.authenticated ? "checked: format and authentication (HMAC under the quorum's "
                                  "backup key): OK\n"
                                : "checked: format only; the authentication was NOT checked "
                                  "(give --shares-file or --authenticate)\n");
      });
      return 0;
    };
  });

  struct RestoreArgs {
    std::string file;
    std::vector<std::string> files;
    bool skip_existing = false;
  };
  auto rs = std::make_shared<RestoreArgs>();
  auto* restore = group->add_subcommand("restore", "put a backup's keys on this token (after "
                                        "'master restore') and its keystore in the workspace");
  restore->add_option("FILE", rs->file, "the backup file")->required();
  restore->add_option("--shares-file", rs->files, "file of shares, one mnemonic a line "
                      "(repeatable; default: typed one custodian at a time)")->type_name("F");
  restore->add_flag("--skip-existing", rs->skip_existing, "keep keys already on the token "
                    "(each is checked against its recorded public key) instead of refusing");
  with_example(restore, "hsmctl --token new-hsm backup restore site-a-2026-11-23.hsmbk");
  restore->callback([&cli, rs] {
    cli.action = [&cli, rs] {
      Workspace ws(cli.workspace_options(DirUse::start));
      const auto r = backup_restore(ws, rs->file, share_intake(rs->files), rs->skip_existing);
      cli.emit({{"kcv", r.kcv}, {"restored", r.restored}, {"skipped", r.skipped},
                {"keystore", r.keystore}},
               [&](std::ostream& out) {
                 out << fmt::format("restored on token '{}': {}; kept: {}; keystore {}\n",
                                    ws.token().label, joined(r.restored), joined(r.skipped),
                                    r.keystore);
               });
      return 0;
    };
  });
}

}  // namespace hsm::cli
