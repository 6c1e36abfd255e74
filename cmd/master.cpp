// master init | status | verify-share | restore | reshare: the master secret and its custodians.
#include <fmt/format.h>
#include <unistd.h>

#include <ostream>

#include "ceremonies/master/commitments.h"
#include "ceremonies/master/master_quorum.h"
#include "cmd/cli.h"
#include "cmd/console.h"
#include "cmd/share_entry.h"
#include "core/error.h"
#include "core/pkcs11/crypt.h"
#include "core/secure/secret_source.h"

namespace hsm::cli {

namespace {

nlohmann::json result_json(const MasterInitResult& r) {
  nlohmann::json c = nlohmann::json::array();
  for (const auto& [name, commitment] : r.commitments)
    c.push_back({{"name", name}, {"commitment", commitment}});
  return {{"kcv", r.kcv}, {"identifier", r.identifier}, {"threshold", r.threshold},
          {"custodians", c}, {"seq", r.seq}, {"commitments_file", r.commitments_file.string()},
          {"commitments_sha256", r.commitments_sha256}, {"delivery", r.delivery},
          {"groups", r.groups}, {"kek_derivation", r.kek_derivation}};
}

void print_result(std::ostream& out, const char* what, const MasterInitResult& r) {
  if (r.groups.empty()) {
    out << fmt::format("{}: {}-of-{} share set {} issued; MK-wrap check value (KCV) {}\n", what,
                       r.threshold, r.commitments.size(), r.identifier, r.kcv);
  } else {
    std::vector<std::string> each;
    for (const auto& g : r.groups)
      each.push_back(fmt::format("'{}' {} of {}", g["name"].get<std::string>(),
                                 g["threshold"].get<int>(), g["custodians"].size()));
    out << fmt::format("{}: share set {} of {} groups issued, any {} of them restore ({}); "
                       "MK-wrap check value (KCV) {}\n", what, r.identifier, r.groups.size(),
                       r.threshold, fmt::join(each, ", "), r.kcv);
  }
  for (const auto& [name, commitment] : r.commitments) {
    std::string where;
    if (const auto f = r.share_files.find(name); f != r.share_files.end())
      where = "  -> " + f->second.string();
    if (const auto d = r.delivery.find(name); d != r.delivery.end() && d->is_object())
      where += fmt::format(" (encrypted to OpenPGP key {})", d->value("openpgp", "?"));
    out << fmt::format("  {:<16} commitment {}{}\n", name, commitment.substr(0, 16), where);
  }
  out << fmt::format("Commitments (public; a custodian checks a share with 'master verify-share "
                     "--commitments FILE'): {}\n  SHA-256 {} (in the transcript)\n",
                     r.commitments_file.string(), r.commitments_sha256);
  if (!r.kek_derivation.empty())
    out << fmt::format("Keys are derived from MK-derive by {}{}.\n", r.kek_derivation,
                       r.kek_derivation == "hmac-sha256" ? " (the fallback for a token without "
                                                           "AES-ECB-ENCRYPT-DATA)" : "");
  out << "Write the KCV on the paper record; 'master restore' prints it for comparison.\n";
}

CustodianConsole* console_for(const ShareDelivery& d, const std::vector<std::string>& custodians,
                              TerminalConsole& console) {
  return d.any_on_terminal(custodians) && has_terminal() ? &console : nullptr;
}

// --group and --group-threshold (a two-level share set), as master init and reshare take them.
struct GroupArgs {
  std::vector<std::string> specs;
  int group_threshold = 0;

  void add_to(CLI::App* app) {
    app->add_option("--group", specs, "a group of custodians for a two-level share set, "
                    "instead of --threshold and --custodians (repeatable)")
        ->type_name("NAME:M:a,b,c");
    app->add_option("--group-threshold", group_threshold, "groups needed to restore, with "
                    "--group")->type_name("G");
  }
  std::vector<ShareGroupSpec> groups() const {
    std::vector<ShareGroupSpec> out;
    for (const auto& s : specs) out.push_back(parse_share_group(s));
    return out;
  }
};

// --shares-out, --cards, --paper and --encrypt-to, as master init and master reshare take them.
struct DeliveryArgs {
  std::string shares_out, cards, paper = "a4";
  std::vector<std::string> encrypt_to;

  void add_to(CLI::App* app) {
    app->add_option("--shares-out", shares_out, "write DIR/<custodian>.share (0600) instead of "
                    "showing each share on the terminal")->type_name("DIR");
    app->add_option("--cards", cards, "write a printed share card DIR/<custodian>.pdf (0600) "
                    "for each custodian: words, QR code, set, KCV")->type_name("DIR");
    app->add_option("--paper", paper, "share card paper size: a4 (default) or letter")
        ->type_name("a4|letter");
    app->add_option("--encrypt-to", encrypt_to, "encrypt this custodian's share to their "
                    "OpenPGP public key: --shares-out DIR/<custodian>.share.asc (repeatable)")
        ->type_name("CUSTODIAN=KEYFILE");
  }
  ShareDelivery delivery() const {
    ShareDelivery d;
    if (!shares_out.empty()) d.shares_out = shares_out;
    if (!cards.empty()) d.cards = cards;
    d.paper = print::paper_named(paper);
    d.encrypt_to = parse_encrypt_to(encrypt_to);
    return d;
  }
};

}  // namespace

void add_master_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("master", "the master secret: split among custodians, "
                                       "restored with a quorum");
  group->require_subcommand(1);

  struct InitArgs {
    MasterInitOptions o;
    DeliveryArgs delivery;
    GroupArgs groups;
    std::string kek_derivation;
  };
  auto ia = std::make_shared<InitArgs>();
  auto* init = group->add_subcommand("init", "make the master secret, split it into M-of-N "
                                     "custodian shares, put MK-wrap and MK-derive on the token");
  init->add_option("--threshold", ia->o.threshold, "shares needed to restore (M)")
      ->type_name("M");
  init->add_option("--custodians", ia->o.custodians, "custodian names, comma separated (N <= 16)")
      ->delimiter(',')->type_name("a,b,c");
  ia->groups.add_to(init);
  ia->delivery.add_to(init);
  init->add_flag("--allow-single-custodian", ia->o.allow_single_custodian,
                 "allow --threshold 1 with a single custodian (one person "
                 "can restore the master); never with more custodians");
  init->add_option("--kek-derivation", ia->kek_derivation,
                   "how keys are derived from MK-derive: aes-ecb (CKM_AES_ECB_ENCRYPT_DATA) or "
                   "hmac-sha256 (C_Sign, for tokens without it); default: aes-ecb where the "
                   "token can, else hmac-sha256")
      ->type_name("aes-ecb|hmac-sha256");
  with_example(init, "hsmctl master init --threshold 3 --custodians alice,bob,carol,dave,erin");
  init->callback([&cli, ia] {
    cli.action = [&cli, ia] {
      ia->o.delivery = ia->delivery.delivery();
      ia->o.groups = ia->groups.groups();
      ia->o.group_threshold = ia->groups.group_threshold;
      if (!ia->kek_derivation.empty()) {
        ia->o.kek_derivation = p11::kek_derivation_named(ia->kek_derivation);
        if (!ia->o.kek_derivation)
          fail(Category::usage, fmt::format("--kek-derivation '{}' is not aes-ecb or hmac-sha256",
                                            ia->kek_derivation));
      }
      Workspace ws(cli.workspace_options(DirUse::start));
      TerminalConsole console;
      const auto r = master_init(ws, ia->o, console_for(ia->o.delivery, ia->o.all_custodians(), console));
      cli.emit(result_json(r), [&](std::ostream& out) { print_result(out, "master init", r); });
      return 0;
    };
  });

  auto* status = group->add_subcommand("status", "show the master key on the token and in the "
                                       "workspace (KCV, threshold, custodians)");
  with_example(status, "hsmctl master status --json");
  status->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options());
      const auto j = master_status(ws);
      cli.emit(j, [&](std::ostream& out) {
        if (!j["present"].get<bool>()) {
          out << "no master key\n";
          return;
        }
        out << fmt::format("master key: {} on token '{}'; KCV {}\n",
                           j["on_token"].get<bool>() ? "present" : "NOT", ws.token().label,
                           j.value("kcv", "?"));
        if (j.contains("threshold")) {
          out << fmt::format("{}-of-{} share set {}, created {} (transcript seq {})\n",
                             j["threshold"].get<int>(), j["custodians"].size(),
                             j["identifier"].get<int>(), j["created"].get<std::string>(),
                             j["created_seq"].get<long>());
          for (const auto& c : j["custodians"])
            out << fmt::format("  {:<16} member {}\n", c["name"].get<std::string>(),
                               c["member_index"].get<int>());
        }
      });
      return 0;
    };
  });

  struct VerifyArgs {
    std::string share_file, commitments;
  };
  auto va = std::make_shared<VerifyArgs>();
  auto* verify = group->add_subcommand("verify-share", "a custodian checks their share against "
                                       "the public commitments (checksum, share set, "
                                       "commitment); no token or PIN, nothing is recombined");
  verify->add_option("--share-file", va->share_file, "file holding the share (default: typed, "
                     "hidden, word by word corrections)")->type_name("F");
  verify->add_option("--commitments", va->commitments, "the share set's commitments file that "
                     "master init or reshare wrote (default: the workspace's keystore)")
      ->type_name("FILE");
  with_example(verify, "hsmctl master verify-share --commitments share-set-1234-0a1b2c3d.json");
  verify->callback([&cli, va] {
    cli.action = [&cli, va] {
      // The public commitments first: no token, no PIN, no transcript, no workspace lock.
      const keystore::ShareSet set = va->commitments.empty()
                                         ? workspace_share_set(cli.globals.dir)
                                         : read_commitments_file(va->commitments);
      Secret m;
      if (va->share_file.empty()) {
        m = type_share("Your share (words separated by spaces; the first four letters of each "
                       "are enough): ");
        if (m.empty()) fail(Category::usage, "no share typed; nothing to verify");
      } else {
        m = read_secret(SecretSource::parse("file:" + va->share_file), "share");
        check_share_spelling(m, 1, va->share_file);
      }
      const ShareCheck c = verify_share(set, m);
      nlohmann::json doc{{"custodian", c.custodian}, {"member_index", c.member_index},
                         {"threshold", c.threshold}, {"custodians", c.count},
                         {"identifier", c.identifier}, {"ok", true}};
      if (!c.group.empty()) {
        doc["group"] = c.group;
        doc["group_threshold"] = c.group_threshold;
        doc["groups"] = c.groups;
      }
      cli.emit(doc, [&](std::ostream& out) {
        if (c.group.empty())
          out << fmt::format("share OK: custodian '{}', member {} of {} (any {} restore), "
                             "share set {}\n", c.custodian, c.member_index, c.count,
                             c.threshold, c.identifier);
        else
          out << fmt::format("share OK: custodian '{}', member {} of {} in group '{}' (any {} of "
                             "its members; {} of the {} groups restore), share set {}\n",
                             c.custodian, c.member_index, c.count, c.group, c.threshold,
                             c.group_threshold, c.groups, c.identifier);
      });
      return 0;
    };
  });

  auto rf = std::make_shared<std::vector<std::string>>();
  auto* restore = group->add_subcommand("restore", "bring the master key back onto a token "
                                        "with a quorum of custodian shares");
  restore->add_option("--shares-file", *rf, "file of shares, one mnemonic a line (repeatable; "
                      "default: typed one custodian at a time)")->type_name("F");
  with_example(restore, "hsmctl --token new-hsm master restore");
  restore->callback([&cli, rf] {
    cli.action = [&cli, rf] {
      Workspace ws(cli.workspace_options(DirUse::start));
      const RestoreResult r = master_restore(ws, share_intake(*rf));
      cli.emit({{"kcv", r.kcv}, {"kcv_checked", r.kcv_checked},
                {"transcript_key_restored", r.transcript_key_restored}, {"adopted", r.adopted}},
               [&](std::ostream& out) {
                 out << fmt::format("master key restored on token '{}'; KCV {} ({})\n",
                                    ws.token().label, r.kcv,
                                    r.kcv_checked ? "matches the workspace record"
                                                  : "compare it with the paper record");
                 if (r.adopted)
                   out << "This workspace had no record of the share set: it now knows only the "
                          "shares given here. Run 'master reshare' to issue a fully recorded set.\n";
               });
      return 0;
    };
  });

  struct ReshareArgs {
    ReshareOptions o;
    DeliveryArgs delivery;
    GroupArgs groups;
    std::vector<std::string> files;
  };
  auto ra = std::make_shared<ReshareArgs>();
  auto* reshare = group->add_subcommand("reshare", "issue a new share set of the same master "
                                        "secret (quorum of current shares needed)");
  reshare->add_option("--threshold", ra->o.threshold, "shares needed to restore (M)")
      ->type_name("M");
  reshare->add_option("--custodians", ra->o.custodians, "new custodian names, comma separated")
      ->delimiter(',')->type_name("a,b,c");
  ra->groups.add_to(reshare);
  reshare->add_option("--shares-file", ra->files, "current shares (repeatable; default: typed)")
      ->type_name("F");
  ra->delivery.add_to(reshare);
  reshare->add_flag("--allow-single-custodian", ra->o.allow_single_custodian,
                    "allow --threshold 1 with a single custodian; never with more");
  with_example(reshare, "hsmctl master reshare --threshold 2 --custodians alice,bob,frank");
  reshare->callback([&cli, ra] {
    cli.action = [&cli, ra] {
      ra->o.delivery = ra->delivery.delivery();
      ra->o.groups = ra->groups.groups();
      ra->o.group_threshold = ra->groups.group_threshold;
      std::vector<std::string> names = ra->o.custodians;
      for (const auto& g : ra->o.groups) names.insert(names.end(), g.custodians.begin(), g.custodians.end());
      Workspace ws(cli.workspace_options());
      TerminalConsole console;
      const auto r = master_reshare(ws, ra->o, share_intake(ra->files),
                                    console_for(ra->o.delivery, names, console));
      cli.emit(result_json(r), [&](std::ostream& out) { print_result(out, "master reshare", r); });
      return 0;
    };
  });
}

}  // namespace hsm::cli
