// group create | add | remove | retire | list | show | sign | export-public: shared keys for a team, one
// sealed layer per member, each opened with that member's own password (and one-time code).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <ostream>

#include "ceremonies/groups/group_admin.h"
#include "ceremonies/groups/group_membership.h"
#include "ceremonies/groups/group_sign.h"
#include "ceremonies/keys/file_signature.h"
#include "cmd/cli.h"
#include "core/crypto/algorithm_names.h"
#include "cmd/factors.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm::cli {

namespace {

// --as MEMBER and that member's factors.
struct MemberArgs : FactorArgs {
  std::string as;
};

void add_member_options(CLI::App* cmd, MemberArgs& a) {
  cmd->add_option("--as", a.as, "the member who opens the group key with their own factors")
      ->required()->type_name("USER");
  add_factor_options(cmd, a, "that member's");
}

nlohmann::json result_json(const GroupResult& r) {
  return {{"name", r.name}, {"algorithm", r.algorithm}, {"fingerprint", r.fingerprint},
          {"key_version", r.key_version}, {"members", r.members}, {"seq", r.seq}};
}

nlohmann::json summary_json(const GroupSummary& g) {
  return {{"name", g.name}, {"algorithm", g.algorithm}, {"fingerprint", g.fingerprint},
          {"key_version", g.key_version}, {"members", g.members}, {"created", g.created}};
}

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ",")); }

}  // namespace

void add_group_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("group", "group keys: one key for a team, each member "
                                       "opens it with their own password");
  group->require_subcommand(1);

  auto co = std::make_shared<GroupCreateOptions>();
  auto* create = group->add_subcommand("create", "make a group key in the HSM and seal it to each "
                                       "member (no password needed)");
  create->add_option("NAME", co->name, "group name")->required();
  create->add_option("--members", co->members, "users who may use the key, comma-separated")
      ->required()->delimiter(',')->type_name("USERS");
  add_algorithm_option(create, "--algo", co->algorithm, true,
                       "ec-p256 (default), ec-p384 or rsa-3072 (p256, p384, rsa3072 too)");
  create->add_option("--purpose", co->purpose, "sign (default) or encrypt: an encryption group's "
                     "key is an ECDH P-256 pair for 'hsmctl data' and 'hsmctl dek'")
      ->type_name("PURPOSE");
  with_example(create, "hsmctl group create ops --members alice,bob --algo ec-p256\n"
                       "  hsmctl group create payroll --purpose encrypt --members alice,bob");
  create->callback([&cli, co] {
    cli.action = [&cli, co] {
      Workspace ws(cli.workspace_options());
      const GroupResult r = group_create(ws, *co);
      cli.emit(result_json(r), [&](std::ostream& out) {
        out << fmt::format("group '{}' created ({} key, members {})\nfingerprint (SHA-256 of the "
                           "public key): {}\n", r.name, display_algorithm(r.algorithm), joined(r.members),
                           r.fingerprint);
      });
      return 0;
    };
  });

  struct AddArgs {
    GroupAddOptions o;
    MemberArgs m;
  };
  auto aa = std::make_shared<AddArgs>();
  auto* add = group->add_subcommand("add", "give USER a layer of the group key; a member (--as) "
                                     "opens it with their own factors, USER's password is not "
                                     "needed");
  add->add_option("GROUP", aa->o.group, "group name")->required();
  add->add_option("USER", aa->o.user, "user to add")->required();
  add_member_options(add, aa->m);
  with_example(add, "hsmctl group add ops carol --as alice");
  add->callback([&cli, aa] {
    cli.action = [&cli, aa] {
      aa->o.as = aa->m.as;
      aa->o.factors = aa->m.factors();
      aa->o.max_auth_failures = max_auth_failures(cli);
      Workspace ws(cli.workspace_options());
      const GroupResult r = group_add(ws, aa->o);
      nlohmann::json doc = result_json(r);
      doc["old_versions"] = r.old_versions;
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("user '{}' added to group '{}' (members {})\n", aa->o.user, r.name,
                           joined(r.members));
        if (!r.old_versions.empty())
          out << fmt::format("also sealed old key versions {} to '{}'\n",
                             fmt::join(r.old_versions, ","), aa->o.user);
      });
      return 0;
    };
  });

  auto ro = std::make_shared<GroupRemoveOptions>();
  auto* remove = group->add_subcommand("remove", "remove USER and rotate the group key: a new key "
                                       "pair sealed to the remaining members replaces the old one");
  remove->add_option("GROUP", ro->group, "group name")->required();
  remove->add_option("USER", ro->user, "member to remove")->required();
  with_example(remove, "hsmctl group remove ops bob\n  hsmctl group export-public ops --out "
                       "ops-v2.pem   # the new public key");
  remove->callback([&cli, ro] {
    cli.action = [&cli, ro] {
      Workspace ws(cli.workspace_options());
      const GroupResult r = group_remove(ws, *ro);
      cli.emit(result_json(r), [&](std::ostream& out) {
        out << fmt::format("user '{}' removed from group '{}'; new key version {} (members {})\n"
                           "new fingerprint: {}\n", ro->user, r.name, r.key_version,
                           joined(r.members), r.fingerprint);
      });
      return 0;
    };
  });

  struct RetireArgs {
    GroupRetireOptions o;
    MemberArgs m;
  };
  auto ta = std::make_shared<RetireArgs>();
  auto* retire = group->add_subcommand("retire", "refuse an encryption group's key versions "
                                       "below VERSION for good: their kept keys and layers are "
                                       "deleted (a member's factors)");
  retire->add_option("GROUP", ta->o.group, "encryption group name")->required();
  retire->add_option("--below", ta->o.below, "the new minimum decryption version (at most the "
                     "current key version)")->required()->type_name("VERSION");
  add_member_options(retire, ta->m);
  with_example(retire, "hsmctl group retire payroll --below 3 --as alice   # after 'hsmctl dek "
                       "rewrap' of what must stay readable");
  retire->callback([&cli, ta] {
    cli.action = [&cli, ta] {
      ta->o.as = ta->m.as;
      ta->o.factors = ta->m.factors();
      ta->o.max_auth_failures = max_auth_failures(cli);
      Workspace ws(cli.workspace_options());
      const GroupResult r = group_retire(ws, ta->o);
      nlohmann::json doc = result_json(r);
      doc["min_version"] = r.min_version;
      doc["deleted_versions"] = r.old_versions;
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("group '{}' refuses key versions below {} (deleted: {}; transcript "
                           "seq {})\n", r.name, r.min_version,
                           r.old_versions.empty() ? std::string("none")
                                                  : fmt::format("{}", fmt::join(r.old_versions, ",")),
                           r.seq);
      });
      return 0;
    };
  });

  auto* list = group->add_subcommand("list", "list groups (public facts only)");
  with_example(list, "hsmctl group list --json");
  list->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options());
      const auto groups = group_list(ws);
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& g : groups) arr.push_back(summary_json(g));
      cli.emit({{"groups", arr}}, [&](std::ostream& out) {
        if (groups.empty()) out << "no groups\n";
        for (const auto& g : groups)
          out << fmt::format("{:<24} {:<8} {}  v{}  {}\n", g.name, display_algorithm(g.algorithm),
                             g.fingerprint.substr(0, 16), g.key_version, joined(g.members));
      });
      return 0;
    };
  });

  auto show_name = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "show one group (public facts only)");
  show->add_option("NAME", *show_name, "group name")->required();
  with_example(show, "hsmctl group show ops");
  show->callback([&cli, show_name] {
    cli.action = [&cli, show_name] {
      Workspace ws(cli.workspace_options());
      const GroupSummary g = group_show(ws, *show_name);
      cli.emit(summary_json(g), [&](std::ostream& out) {
        out << fmt::format("group        {}\nalgorithm    {}\nfingerprint  {}\nkey version  {}\n"
                           "members      {}\ncreated      {}\n", g.name, display_algorithm(g.algorithm),
                           g.fingerprint, g.key_version, joined(g.members), g.created);
      });
      return 0;
    };
  });

  struct SignArgs {
    GroupSignOptions o;
    MemberArgs m;
    std::string in, out, receipt;
    CLI::Option* receipt_opt = nullptr;
  };
  auto sa = std::make_shared<SignArgs>();
  auto* sign = group->add_subcommand("sign", "sign a file with the group key as one member "
                                     "(their password, and one-time code once enrolled)");
  sign->add_option("GROUP", sa->o.group, "group name")->required();
  sign->add_option("--in", sa->in, "file to sign")->required()->type_name("FILE");
  sign->add_option("--out", sa->out, "signature file to create (DER; never overwritten)")
      ->required()->type_name("SIG");
  add_member_options(sign, sa->m);
  sa->receipt_opt = add_receipt_option(sign, sa->receipt);
  with_example(sign, "hsmctl group sign ops --as alice --in release.tar --out release.sig\n"
                     "  openssl dgst -sha256 -verify ops.pem -signature release.sig release.tar");
  sign->callback([&cli, sa] {
    cli.action = [&cli, sa] {
      sa->o.as = sa->m.as;
      sa->o.in = sa->in;
      sa->o.out = sa->out;
      sa->o.factors = sa->m.factors();
      sa->o.max_auth_failures = max_auth_failures(cli);
      check_sign_files(sa->o.in, sa->o.out);
      const auto receipt = receipt_path(sa->receipt_opt, sa->receipt, sa->out);
      Workspace ws(cli.workspace_options());
      const GroupSignature r = group_sign(ws, sa->o);
      nlohmann::json doc{{"group", r.group}, {"as", r.as}, {"algorithm", r.algorithm},
                         {"signature_alg", r.signature_alg}, {"key_version", r.key_version},
                         {"fingerprint", r.fingerprint}, {"file_sha256", r.file_sha256},
                         {"signature_sha256", r.signature_sha256}, {"out", sa->out},
                         {"seq", r.seq}};
      write_receipt_after(cli, receipt, r.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("signed '{}' with group '{}' as '{}' ({}) -> '{}' (transcript seq {})\n",
                           sa->in, r.group, r.as, r.signature_alg, sa->out, r.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });

  struct ExportArgs {
    std::string name, out;
  };
  auto ea = std::make_shared<ExportArgs>();
  auto* exp = group->add_subcommand("export-public", "print a group's current public key (PEM "
                                    "SubjectPublicKeyInfo)");
  exp->add_option("NAME", ea->name, "group name")->required();
  exp->add_option("--out", ea->out, "write it to FILE (never overwritten) instead of stdout")
      ->type_name("FILE");
  with_example(exp, "hsmctl group export-public ops --out ops.pem");
  exp->callback([&cli, ea] {
    cli.action = [&cli, ea] {
      Workspace ws(cli.workspace_options());
      const std::string pem = group_public_pem(ws, ea->name);
      if (!ea->out.empty()) write_new_file(ea->out, as_bytes(pem), 0644);
      if (ea->out.empty() && !cli.globals.json) {
        std::cout << pem << std::flush;
        return 0;
      }
      cli.emit({{"name", ea->name}, {"public_key_pem", pem}, {"out", ea->out}},
               [&](std::ostream& out) { out << "wrote '" << ea->out << "'\n"; });
      return 0;
    };
  });
}

}  // namespace hsm::cli
