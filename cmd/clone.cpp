// clone --from-token A --to-token B: master restore and backup restore onto a fresh token in
// one ceremony, with no backup file in between.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/backup/clone_token.h"
#include "cmd/cli.h"
#include "cmd/console.h"

namespace hsm::cli {

void add_clone_commands(Cli& cli) {
  struct Args {
    std::string from, to, to_module;
    std::vector<std::string> files;
  };
  auto a = std::make_shared<Args>();
  auto* clone = cli.app.add_subcommand("clone", "make a fresh token hold this workspace's master "
                                       "and keys (needs M custodian shares)");
  clone->add_option("--from-token", a->from, "the token that holds the master now (label or "
                    "pkcs11: URI)")->type_name("A")->required();
  clone->add_option("--to-token", a->to, "the fresh token to fill (label or pkcs11: URI)")
      ->type_name("B")->required();
  clone->add_option("--to-module", a->to_module, "PKCS#11 module of the target token (default: "
                    "--module)")->type_name("M");
  clone->add_option("--shares-file", a->files, "file of shares, one mnemonic a line "
                    "(repeatable; default: typed one custodian at a time)")->type_name("F");
  with_example(clone, "hsmctl clone --from-token site-a --to-token site-b");
  clone->callback([&cli, a] {
    cli.action = [&cli, a] {
      WorkspaceOptions from_o = cli.workspace_options();
      from_o.token = a->from;
      WorkspaceOptions to_o = cli.workspace_options();
      to_o.token = a->to;
      if (!a->to_module.empty()) to_o.module_path = a->to_module;
      Workspace from(from_o);
      Workspace to(to_o);
      const auto r = clone_token(from, to, share_intake(a->files));
      cli.emit({{"from_token", a->from}, {"to_token", a->to}, {"kcv", r.kcv},
                {"restored", r.restored}},
               [&](std::ostream& out) {
                 out << fmt::format("token '{}' now holds master {} and {} key(s) of token '{}'\n",
                                    a->to, r.kcv, r.restored.size(), a->from);
               });
      return 0;
    };
  });
}

}  // namespace hsm::cli
