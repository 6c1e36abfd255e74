// key generate | list | show | export-public: offline signing keys that live in the HSM.
#include <fmt/format.h>

#include <iostream>
#include <ostream>

#include "ceremonies/keys/signing_keys.h"
#include "cmd/cli.h"
#include "cmd/console.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm::cli {

namespace {

nlohmann::json key_json(const keystore::KeyRecord& k) {
  return {{"label", k.label}, {"key_id", k.key_id}, {"algorithm", k.algorithm},
          {"purpose", k.purpose}, {"quorum", k.quorum}, {"escrow", k.escrow},
          {"fingerprint", crypto::fingerprint(k.public_key)}, {"created", k.created},
          {"status", k.status}};
}

keystore::KeyRecord find(Workspace& ws, const std::string& label) {
  auto k = ws.keystore().find_key(label);
  if (!k) fail(Category::not_found, fmt::format("no key labelled '{}'; see 'hsmctl key list'", label));
  return *k;
}

}  // namespace

void add_key_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("key", "offline signing keys kept in the HSM");
  group->require_subcommand(1);

  struct GenArgs {
    KeyGenerateOptions o;
    std::vector<std::string> files;
  };
  auto g = std::make_shared<GenArgs>();
  auto* gen = group->add_subcommand("generate", "make a signing key, escrowed at birth under "
                                    "the master key (or, with --quorum, usable only with M shares)");
  gen->add_option("LABEL", g->o.label, "name of the key")->required();
  add_algorithm_option(gen, "--algo", g->o.algorithm, false, "ec-p256 (default), ec-p384, "
                       "ed25519, rsa-3072 or rsa-4096 (p256, p384, rsa3072, rsa4096 too)");
  gen->add_option("--purpose", g->o.purpose, "ca, code or generic")->type_name("P")
      ->default_str("generic");
  gen->add_option("--quorum", g->o.quorum, "a quorum key: no token object; every use needs the "
                  "custodians' shares; M must equal the master share set's threshold")->type_name("M");
  gen->add_option("--shares-file", g->files, "shares for --quorum (repeatable; default: typed)")
      ->type_name("F");
  gen->add_flag("--no-backup", g->o.no_backup, "born on the token, never escrowed (required "
                "for ed25519 on tokens that cannot wrap EdDSA keys)");
  with_example(gen, "hsmctl key generate root-2026 --algo ec-p384 --purpose ca");
  gen->callback([&cli, g] {
    cli.action = [&cli, g] {
      Workspace ws(cli.workspace_options());
      const auto k = generate_signing_key(ws, g->o, share_intake(g->files));
      cli.emit(key_json(k), [&](std::ostream& out) {
        out << fmt::format("key '{}' ({}, {}) generated; escrow {}; fingerprint {}\n", k.label,
                           k.algorithm, k.purpose, k.escrow, crypto::fingerprint(k.public_key));
      });
      return 0;
    };
  });

  auto* list = group->add_subcommand("list", "list the signing keys of the workspace");
  with_example(list, "hsmctl key list --json");
  list->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options());
      nlohmann::json doc = nlohmann::json::array();
      for (const auto& k : ws.keystore().list_keys()) doc.push_back(key_json(k));
      cli.emit({{"keys", doc}}, [&](std::ostream& out) {
        out << fmt::format("{:<24} {:<9} {:<8} {:<6} {:<8} {}\n", "LABEL", "ALGO", "PURPOSE",
                           "QUORUM", "ESCROW", "FINGERPRINT");
        for (const auto& k : doc)
          out << fmt::format("{:<24} {:<9} {:<8} {:<6} {:<8} {}\n", k["label"].get<std::string>(),
                             k["algorithm"].get<std::string>(), k["purpose"].get<std::string>(),
                             k["quorum"].get<int>(), k["escrow"].get<std::string>(),
                             k["fingerprint"].get<std::string>().substr(0, 16));
      });
      return 0;
    };
  });

  auto show_label = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "show one key");
  show->add_option("LABEL", *show_label, "the key")->required();
  with_example(show, "hsmctl key show root-2026");
  show->callback([&cli, show_label] {
    cli.action = [&cli, show_label] {
      Workspace ws(cli.workspace_options());
      const auto j = key_json(find(ws, *show_label));
      cli.emit(j, [&](std::ostream& out) {
        for (const auto& [k, v] : j.items()) out << fmt::format("{:<12} {}\n", k, v.dump());
      });
      return 0;
    };
  });

  struct ExportArgs {
    std::string label, out;
  };
  auto e = std::make_shared<ExportArgs>();
  auto* exp = group->add_subcommand("export-public", "print the public key as PEM "
                                    "(SubjectPublicKeyInfo)");
  exp->add_option("LABEL", e->label, "the key")->required();
  exp->add_option("--out", e->out, "write to FILE instead of stdout (never overwrites)")
      ->type_name("FILE");
  with_example(exp, "hsmctl key export-public root-2026 --out root-2026.pub.pem");
  exp->callback([&cli, e] {
    cli.action = [&cli, e] {
      Workspace ws(cli.workspace_options());
      const std::string pem = crypto::spki_pem(find(ws, e->label).public_key);
      if (!e->out.empty()) write_new_file(e->out, as_bytes(pem), 0644);
      if (e->out.empty() || cli.globals.json)
        cli.emit({{"label", e->label}, {"public_key_pem", pem}}, [&](std::ostream& out) { out << pem; });
      return 0;
    };
  });
}

}  // namespace hsm::cli
