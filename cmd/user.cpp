// user create | sign | export-public | list | show | delete | unlock | passwd | otp-enroll:
// server-side signing keys, two layers (MK-wrap inside, password KEK outside), password + TOTP.
#include <fmt/format.h>

#include <iostream>
#include <ostream>

#include "ceremonies/users/user_admin.h"
#include "ceremonies/users/user_create.h"
#include "ceremonies/users/user_otp.h"
#include "ceremonies/users/user_passwd.h"
#include "ceremonies/users/user_sign.h"
#include "ceremonies/keys/file_signature.h"
#include "cmd/cli.h"
#include "core/crypto/algorithm_names.h"
#include "cmd/factors.h"
#include "core/error.h"
#include "core/files.h"
#include "core/otp/terminal_qr.h"
#include "core/secure/secret_source.h"

namespace hsm::cli {

void add_user_provision_command(Cli& cli, CLI::App* group);  // cmd/user_provision.cpp

namespace {

nlohmann::json summary_json(const UserSummary& u) {
  return {{"name", u.name},         {"algorithm", u.algorithm},     {"fingerprint", u.fingerprint},
          {"key_version", u.key_version}, {"kdf_profile", u.kdf_profile},
          {"otp_enrolled", u.otp_enrolled}, {"failures", u.failures}, {"locked", u.locked},
          {"created", u.created},   {"rotated", u.rotated}};
}

// Shows the TOTP seed: the otpauth:// URI on stdout (--show-secret), else URI and QR code on
// the terminal. The URI is never copied out of its Secret except into the stream it goes to, so
// the JSON is written by hand: neither needs escaping (user names are [A-Za-z0-9._-], and the URI
// is percent-encoded by core/otp), which keeps the secret out of a json object's heap copies.
void show_enrolment(const Cli& cli, const std::string& name, const Secret& uri, bool to_stdout) {
  if (to_stdout) {
    if (cli.globals.json) std::cout << "{\"name\":\"" << name << "\",\"otpauth_uri\":\"";
    std::cout.write(uri.chars().data(), static_cast<std::streamsize>(uri.size()));
    std::cout << (cli.globals.json ? "\"}\n" : "\n");
    std::cout.flush();
    return;
  }
  std::string qr = otp::render_qr_utf8(uri.chars());
  write_terminal(fmt::format("\nScan this with the authenticator app of user '{}', or enter the "
                             "URI below. Nobody else may see it.\n\n", name));
  write_terminal(qr);
  write_terminal(uri.chars());
  write_terminal("\n\n");
  std::fill(qr.begin(), qr.end(), '\0');
  cli.emit({{"name", name}, {"otp_enrolled", true}}, [&](std::ostream& out) {
    out << fmt::format("one-time codes enrolled for user '{}'; 'user sign' now needs one\n", name);
  });
}

}  // namespace

void add_user_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("user", "user signing keys: generated in the HSM, sealed "
                                       "under the master key and the user's password");
  group->require_subcommand(1);
  add_user_provision_command(cli, group);

  struct CreateArgs {
    UserCreateOptions o;
    std::string password = "prompt";
  };
  auto ca = std::make_shared<CreateArgs>();
  auto* create = group->add_subcommand("create", "make a user's key pair in the HSM and seal it "
                                       "under MK-wrap and the user's password");
  create->add_option("NAME", ca->o.name, "user name")->required();
  add_algorithm_option(create, "--algo", ca->o.algorithm, true, "ec-p256 (default), ec-p384, "
                       "rsa-3072 or ed25519 (p256, p384, rsa3072 too)");
  add_source_option(create, "--password-source", ca->password, "new password (default: prompt, "
                    "asked twice)");
  create->add_option("--kdf-profile", ca->o.kdf_profile, "Argon2id cost: interactive (default), "
                     "moderate, sensitive; min only for rehearsals and benchmarks")
      ->type_name("PROFILE");
  with_example(create, "hsmctl user create alice --algo ec-p256");
  create->callback([&cli, ca] {
    cli.action = [&cli, ca] {
      ca->o.password = SecretSource::parse(ca->password);
      ca->o.min_password_length = min_password_length(cli);
      Workspace ws(cli.workspace_options());
      const UserCreated r = user_create(ws, ca->o);
      cli.emit({{"name", r.name}, {"algorithm", r.algorithm}, {"fingerprint", r.fingerprint},
                {"key_version", r.key_version}, {"kdf_profile", r.kdf_profile}, {"seq", r.seq}},
               [&](std::ostream& out) {
                 out << fmt::format("user '{}' created ({} key, KDF profile {})\nfingerprint "
                                    "(SHA-256 of the public key): {}\n", r.name, display_algorithm(r.algorithm),
                                    r.kdf_profile, r.fingerprint);
               });
      return 0;
    };
  });

  struct SignArgs {
    UserSignOptions o;
    FactorArgs f;
    std::string in, out, receipt;
    CLI::Option* receipt_opt = nullptr;
  };
  auto sa = std::make_shared<SignArgs>();
  auto* sign = group->add_subcommand("sign", "sign a file with a user's key (password, and a "
                                     "one-time code once enrolled)");
  sign->add_option("NAME", sa->o.name, "user name")->required();
  sign->add_option("--in", sa->in, "file to sign")->required()->type_name("FILE");
  sign->add_option("--out", sa->out, "signature file to create (DER; never overwritten)")
      ->required()->type_name("SIG");
  add_factor_options(sign, sa->f, "the user's");
  sa->receipt_opt = add_receipt_option(sign, sa->receipt);
  with_example(sign, "hsmctl user sign alice --in report.pdf --out report.sig --otp-source "
                     "prompt\n"
                     "  openssl dgst -sha256 -verify alice.pem -signature report.sig report.pdf");
  sign->callback([&cli, sa] {
    cli.action = [&cli, sa] {
      sa->o.in = sa->in;
      sa->o.out = sa->out;
      sa->o.factors = sa->f.factors();
      sa->o.max_auth_failures = max_auth_failures(cli);
      check_sign_files(sa->o.in, sa->o.out);
      const auto receipt = receipt_path(sa->receipt_opt, sa->receipt, sa->out);
      Workspace ws(cli.workspace_options());
      const UserSignature r = user_sign(ws, sa->o);
      nlohmann::json doc{{"name", r.name}, {"algorithm", r.algorithm},
                         {"signature_alg", r.signature_alg}, {"key_version", r.key_version},
                         {"fingerprint", r.fingerprint}, {"file_sha256", r.file_sha256},
                         {"signature_sha256", r.signature_sha256}, {"out", sa->out},
                         {"seq", r.seq}};
      write_receipt_after(cli, receipt, r.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("signed '{}' as user '{}' ({}) -> '{}' (transcript seq {})\n", sa->in,
                           r.name, r.signature_alg, sa->out, r.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });

  struct ExportArgs {
    std::string name, out;
  };
  auto ea = std::make_shared<ExportArgs>();
  auto* exp = group->add_subcommand("export-public", "print a user's public key (PEM "
                                    "SubjectPublicKeyInfo)");
  exp->add_option("NAME", ea->name, "user name")->required();
  exp->add_option("--out", ea->out, "write it to FILE (never overwritten) instead of stdout")
      ->type_name("FILE");
  with_example(exp, "hsmctl user export-public alice --out alice.pem");
  exp->callback([&cli, ea] {
    cli.action = [&cli, ea] {
      Workspace ws(cli.workspace_options());
      const std::string pem = user_public_pem(ws, ea->name);
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

  auto* list = group->add_subcommand("list", "list users (public facts only)");
  with_example(list, "hsmctl user list --json");
  list->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options());
      const auto users = user_list(ws);
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& u : users) arr.push_back(summary_json(u));
      cli.emit({{"users", arr}}, [&](std::ostream& out) {
        if (users.empty()) {
          out << "no users\n";
          return;
        }
        // Columns with a header row, as 'key list' prints them.
        constexpr const char* kRow = "{:<24} {:<9} {:<16} {:<7} {:<4} {}\n";
        out << fmt::format(kRow, "NAME", "ALGO", "FINGERPRINT", "VERSION", "OTP", "STATUS");
        for (const auto& u : users)
          out << fmt::format(kRow, u.name, display_algorithm(u.algorithm),
                             u.fingerprint.substr(0, 16), u.key_version,
                             u.otp_enrolled ? "yes" : "no", u.locked ? "LOCKED" : "ok");
      });
      return 0;
    };
  });

  auto show_name = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "show one user (public facts only)");
  show->add_option("NAME", *show_name, "user name")->required();
  with_example(show, "hsmctl user show alice");
  show->callback([&cli, show_name] {
    cli.action = [&cli, show_name] {
      Workspace ws(cli.workspace_options());
      const UserSummary u = user_show(ws, *show_name);
      cli.emit(summary_json(u), [&](std::ostream& out) {
        out << fmt::format("user         {}\nalgorithm    {}\nfingerprint  {}\nkey version  {}\n"
                           "KDF profile  {}\none-time     {}\nfailures     {}{}\ncreated      {}\n"
                           "rotated      {}\n", u.name, display_algorithm(u.algorithm), u.fingerprint, u.key_version,
                           u.kdf_profile, u.otp_enrolled ? "enrolled" : "not enrolled",
                           u.failures, u.locked ? " (LOCKED)" : "", u.created, u.rotated);
      });
      return 0;
    };
  });

  auto del_name = std::make_shared<std::string>();
  auto* del = group->add_subcommand("delete", "delete a user and, with them, their key for good");
  del->add_option("NAME", *del_name, "user name")->required();
  with_example(del, "hsmctl user delete alice");
  del->callback([&cli, del_name] {
    cli.action = [&cli, del_name] {
      const std::string& name = *del_name;
      if (!cli.globals.yes) {
        if (!has_terminal())
          fail(Category::usage, fmt::format("deleting user '{}' destroys their key for good: "
                                            "confirm at a terminal, or add --yes", name));
        const Secret typed = prompt_visible(fmt::format("Deleting user '{}' destroys their key "
                                                        "for good. Type the name to confirm: ", name));
        if (typed.chars() != name)
          fail(Category::general, fmt::format("not confirmed; user '{}' was not deleted", name));
      }
      Workspace ws(cli.workspace_options());
      user_delete(ws, name);
      cli.emit({{"name", name}, {"deleted", true}},
               [&](std::ostream& out) { out << fmt::format("user '{}' deleted\n", name); });
      return 0;
    };
  });

  auto un_name = std::make_shared<std::string>();
  auto* unlock = group->add_subcommand("unlock", "clear a user's lock and failure count (admin)");
  unlock->add_option("NAME", *un_name, "user name")->required();
  with_example(unlock, "hsmctl user unlock alice");
  unlock->callback([&cli, un_name] {
    cli.action = [&cli, un_name] {
      Workspace ws(cli.workspace_options());
      const std::int64_t cleared = user_unlock(ws, *un_name);
      cli.emit({{"name", *un_name}, {"unlocked", true}, {"failures_cleared", cleared}},
               [&](std::ostream& out) {
                 out << fmt::format("user '{}' unlocked ({} failure(s) cleared)\n", *un_name,
                                    cleared);
               });
      return 0;
    };
  });

  struct PasswdArgs {
    UserPasswdOptions o;
    FactorArgs f;
    std::string new_password = "prompt";
  };
  auto pa = std::make_shared<PasswdArgs>();
  auto* passwd = group->add_subcommand("passwd", "change a user's password (re-seals the key "
                                       "under a new KEK; the key itself stays)");
  passwd->add_option("NAME", pa->o.name, "user name")->required();
  add_factor_options(passwd, pa->f, "the user's");
  add_source_option(passwd, "--new-password-source", pa->new_password,
                    "new password (default: prompt, asked twice)");
  passwd->add_option("--kdf-profile", pa->o.kdf_profile, "Argon2id cost for the new password "
                     "(default: keep the user's)")->type_name("PROFILE");
  with_example(passwd, "hsmctl user passwd alice");
  passwd->callback([&cli, pa] {
    cli.action = [&cli, pa] {
      pa->o.factors = pa->f.factors();
      pa->o.new_password = SecretSource::parse(pa->new_password);
      pa->o.max_auth_failures = max_auth_failures(cli);
      pa->o.min_password_length = min_password_length(cli);
      Workspace ws(cli.workspace_options());
      const UserPasswdResult r = user_passwd(ws, pa->o);
      cli.emit({{"name", pa->o.name}, {"key_version", r.key_version},
                {"kdf_profile", r.kdf_profile}},
               [&](std::ostream& out) {
                 out << fmt::format("password of user '{}' changed (key version {})\n",
                                    pa->o.name, r.key_version);
               });
      return 0;
    };
  });

  struct OtpArgs {
    OtpEnrolOptions o;
    FactorArgs f;
    bool show_secret = false;
  };
  auto oa = std::make_shared<OtpArgs>();
  auto* otp = group->add_subcommand("otp-enroll", "give a user a TOTP second factor (needs their "
                                    "password; shown as a QR code on the terminal)");
  otp->add_option("NAME", oa->o.name, "user name")->required();
  add_factor_options(otp, oa->f, "the user's");
  otp->add_flag("--show-secret", oa->show_secret, "print the otpauth:// URI on stdout instead of "
                "the terminal; it IS the TOTP secret: for scripts and tests, keep it out of logs");
  with_example(otp, "hsmctl user otp-enroll alice");
  otp->callback([&cli, oa] {
    cli.action = [&cli, oa] {
      if (!oa->show_secret && !has_terminal())
        fail(Category::usage, "no terminal to show the TOTP secret on; add --show-secret to print "
                              "the otpauth:// URI on stdout (it is the secret)");
      oa->o.factors = oa->f.factors();
      oa->o.max_auth_failures = max_auth_failures(cli);
      Workspace ws(cli.workspace_options());
      const OtpEnrolment r = user_otp_enroll(ws, oa->o);
      show_enrolment(cli, oa->o.name, r.otpauth_uri, oa->show_secret);
      return 0;
    };
  });
}

}  // namespace hsm::cli
