// sign file | cert | csr | crl: offline signatures, certificates, CSRs and CRLs made with keys
// that never leave the HSM. Parses, calls one ceremony, prints; decides nothing itself.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/keys/offline_sign.h"
#include "ceremonies/keys/x509_cert.h"
#include "ceremonies/keys/x509_crl.h"
#include "cmd/cli.h"
#include "cmd/console.h"

namespace hsm::cli {

namespace {

nlohmann::json artefact_json(const SignedArtefact& a, const std::string& out) {
  nlohmann::json j{{"key", a.key}, {"out", out}, {"tbs_sha256", a.signed_sha256},
                   {"output_sha256", a.output_sha256}, {"seq", a.seq}};
  if (!a.subject.empty()) j["subject"] = a.subject;
  if (!a.issuer.empty()) j["issuer"] = a.issuer;
  if (!a.serial.empty()) j["serial"] = a.serial;
  if (a.crl_number > 0) j["crl_number"] = a.crl_number;
  if (!a.not_before.empty()) j["not_before"] = a.not_before;
  if (!a.not_after.empty()) j["not_after"] = a.not_after;
  return j;
}

CLI::Option* add_key_option(CLI::App* cmd, std::string& key) {
  return cmd->add_option("--key", key, "signing key label")->required()->type_name("LABEL");
}

void add_shares_option(CLI::App* cmd, std::vector<std::string>& files) {
  cmd->add_option("--shares-file", files, "shares for a quorum key (repeatable; default: typed)")
      ->type_name("F");
}

void add_file_command(Cli& cli, CLI::App* group) {
  struct Args {
    SignFileOptions o;
    std::string in, out, cert, receipt;
    std::vector<std::string> files;
    CLI::Option* receipt_opt = nullptr;
  };
  auto f = std::make_shared<Args>();
  auto* file = group->add_subcommand("file", "detached signature of a file");
  add_key_option(file, f->o.key);
  file->add_option("--in", f->in, "file to sign")->required()->type_name("FILE");
  file->add_option("--out", f->out, "signature to write (DER; never overwrites)")
      ->required()->type_name("SIG");
  file->add_option("--format", f->o.format, "raw (the signature alone) or cms (CMS SignedData "
                   "with --cert)")->type_name("FMT")->default_str("raw");
  file->add_option("--cert", f->cert, "the key's certificate, carried in a cms signature")
      ->type_name("CERT");
  add_shares_option(file, f->files);
  f->receipt_opt = add_receipt_option(file, f->receipt);
  with_example(file, "hsmctl sign file --key release-2026 --in app.tar.gz --out app.tar.gz.sig "
                     "--receipt");
  file->callback([&cli, f] {
    cli.action = [&cli, f] {
      f->o.in = f->in;
      f->o.out = f->out;
      f->o.cert = f->cert;
      f->o.validate();
      const auto receipt = receipt_path(f->receipt_opt, f->receipt, f->out);
      Workspace ws(cli.workspace_options());
      const SignResult r = sign_file(ws, f->o, share_intake(f->files));
      nlohmann::json doc{{"key", r.key}, {"out", f->out}, {"format", f->o.format},
                         {"input_sha256", r.input_sha256}, {"signature_sha256", r.output_sha256},
                         {"seq", r.seq}};
      write_receipt_after(cli, receipt, r.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("signed {} with '{}' -> {} (transcript seq {})\n", f->in, r.key,
                           f->out, r.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });
}

void add_cert_command(Cli& cli, CLI::App* group) {
  struct Args {
    SignCertOptions o;
    std::string issuer, csr, out, receipt;
    int path_length = -1;
    std::vector<std::string> files;
    CLI::Option* receipt_opt = nullptr;
  };
  auto c = std::make_shared<Args>();
  auto* cert = group->add_subcommand("cert", "an X.509 certificate: a self-signed root, or one "
                                     "issued from a CSR");
  add_key_option(cert, c->o.key);
  cert->add_flag("--self-signed", c->o.self_signed, "a self-signed certificate for the key itself");
  cert->add_option("--subject", c->o.subject, "the subject, for --self-signed: \"CN=...,O=...,C=..\"")
      ->type_name("DN");
  cert->add_option("--issuer-cert", c->issuer, "the key's own certificate (PEM or DER)")
      ->type_name("CA");
  cert->add_option("--csr", c->csr, "the request to certify (PEM or DER)")->type_name("REQ");
  cert->add_option("--days", c->o.days, "validity from now, in days")->required()->type_name("N");
  cert->add_option("--profile", c->o.profile, "ca, leaf or code")->type_name("P")
      ->default_str("ca");
  cert->add_option("--path-len", c->path_length, "ca profile: pathLenConstraint")->type_name("N");
  cert->add_option("--out", c->out, "certificate to write (PEM; never overwrites)")
      ->required()->type_name("FILE");
  add_shares_option(cert, c->files);
  c->receipt_opt = add_receipt_option(cert, c->receipt);
  with_example(cert, "hsmctl sign cert --key root-2026 --issuer-cert root.pem --csr int.csr "
                     "--days 1825 --out int.pem");
  cert->callback([&cli, c, cert] {
    cli.action = [&cli, c, cert] {
      c->o.issuer_cert = c->issuer;
      c->o.csr = c->csr;
      c->o.out = c->out;
      if (cert->count("--path-len") > 0) c->o.path_length = c->path_length;
      c->o.validate();
      const auto receipt = receipt_path(c->receipt_opt, c->receipt, c->out);
      Workspace ws(cli.workspace_options());
      const SignedArtefact a = sign_certificate(ws, c->o, share_intake(c->files));
      nlohmann::json doc = artefact_json(a, c->out);
      write_receipt_after(cli, receipt, a.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("certificate {} for '{}' issued by '{}' with '{}', valid until {} -> {} "
                           "(transcript seq {})\n", a.serial, a.subject, a.issuer, a.key,
                           a.not_after, c->out, a.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });
}

void add_csr_command(Cli& cli, CLI::App* group) {
  struct Args {
    SignCsrOptions o;
    std::string out, receipt;
    std::vector<std::string> files;
    CLI::Option* receipt_opt = nullptr;
  };
  auto r = std::make_shared<Args>();
  auto* csr = group->add_subcommand("csr", "a certificate signing request for the key, for "
                                    "another CA to certify");
  add_key_option(csr, r->o.key);
  csr->add_option("--subject", r->o.subject, "the subject: \"CN=...,O=...,C=..\"")->required()
      ->type_name("DN");
  csr->add_option("--out", r->out, "CSR to write (PEM; never overwrites)")->required()
      ->type_name("FILE");
  add_shares_option(csr, r->files);
  r->receipt_opt = add_receipt_option(csr, r->receipt);
  with_example(csr, "hsmctl sign csr --key issuing-2026 --subject \"CN=Example Issuing CA\" "
                    "--out issuing.csr");
  csr->callback([&cli, r] {
    cli.action = [&cli, r] {
      r->o.out = r->out;
      r->o.validate();
      const auto receipt = receipt_path(r->receipt_opt, r->receipt, r->out);
      Workspace ws(cli.workspace_options());
      const SignedArtefact a = sign_request(ws, r->o, share_intake(r->files));
      nlohmann::json doc = artefact_json(a, r->out);
      write_receipt_after(cli, receipt, a.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("CSR for '{}' with '{}' -> {} (transcript seq {})\n", a.subject, a.key,
                           r->out, a.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });
}

void add_crl_command(Cli& cli, CLI::App* group) {
  struct Args {
    SignCrlOptions o;
    std::string issuer, out, receipt;
    std::vector<std::string> files;
    CLI::Option* receipt_opt = nullptr;
  };
  auto l = std::make_shared<Args>();
  auto* crl = group->add_subcommand("crl", "a CRL listing every certificate the key revoked");
  add_key_option(crl, l->o.key);
  crl->add_option("--issuer-cert", l->issuer, "the key's own certificate (PEM or DER)")
      ->required()->type_name("CA");
  crl->add_option("--revoke", l->o.revoke, "revoke a certificate: hex serial, optionally "
                  ":reason (RFC 5280 name); repeatable")->type_name("SERIAL[:REASON]");
  crl->add_option("--next-update", l->o.next_update_days, "days until the next CRL is due")
      ->required()->type_name("DAYS");
  crl->add_option("--out", l->out, "CRL to write (PEM; never overwrites)")->required()
      ->type_name("FILE");
  add_shares_option(crl, l->files);
  l->receipt_opt = add_receipt_option(crl, l->receipt);
  with_example(crl, "hsmctl sign crl --key root-2026 --issuer-cert root.pem --revoke "
                    "5F3A...:keyCompromise --next-update 30 --out root.crl");
  crl->callback([&cli, l] {
    cli.action = [&cli, l] {
      l->o.issuer_cert = l->issuer;
      l->o.out = l->out;
      l->o.validate();
      const auto receipt = receipt_path(l->receipt_opt, l->receipt, l->out);
      Workspace ws(cli.workspace_options());
      const SignedArtefact a = sign_crl(ws, l->o, share_intake(l->files));
      nlohmann::json doc = artefact_json(a, l->out);
      write_receipt_after(cli, receipt, a.seq, doc);
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("CRL number {} of '{}' with '{}', next update {} -> {} (transcript "
                           "seq {})\n", a.crl_number, a.issuer, a.key, a.not_after, l->out, a.seq);
        print_receipt(out, receipt);
      });
      return 0;
    };
  });
}

}  // namespace

void add_sign_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("sign", "offline signing with keys that never leave the HSM");
  group->require_subcommand(1);
  add_file_command(cli, group);
  add_cert_command(cli, group);
  add_csr_command(cli, group);
  add_crl_command(cli, group);
}

}  // namespace hsm::cli
