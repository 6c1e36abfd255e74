// sign file (and, as they land, csr | cert | crl): offline signatures with keys in the HSM.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/offline_sign.h"
#include "cmd/cli.h"
#include "cmd/console.h"

namespace hsm::cli {

void add_sign_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("sign", "offline signing with keys that never leave the HSM");
  group->require_subcommand(1);

  struct FileArgs {
    SignFileOptions o;
    std::string in, out;
    std::vector<std::string> files;
  };
  auto f = std::make_shared<FileArgs>();
  auto* file = group->add_subcommand("file", "detached signature of a file");
  file->add_option("--key", f->o.key, "signing key label")->required()->type_name("LABEL");
  file->add_option("--in", f->in, "file to sign")->required()->type_name("FILE");
  file->add_option("--out", f->out, "signature to write (DER for ECDSA; never overwrites)")
      ->required()->type_name("SIG");
  file->add_option("--format", f->o.format, "raw")->type_name("FMT")->default_str("raw");
  file->add_option("--shares-file", f->files, "shares for a quorum key (repeatable; default: typed)")
      ->type_name("F");
  with_example(file, "hsmctl sign file --key release-2026 --in app.tar.gz --out app.tar.gz.sig");
  file->callback([&cli, f] {
    cli.action = [&cli, f] {
      f->o.in = f->in;
      f->o.out = f->out;
      Workspace ws(cli.workspace_options());
      const SignResult r = sign_file(ws, f->o, share_intake(f->files));
      cli.emit({{"key", r.key}, {"out", f->out}, {"input_sha256", r.input_sha256},
                {"signature_sha256", r.output_sha256}, {"seq", r.seq}},
               [&](std::ostream& out) {
                 out << fmt::format("signed {} with '{}' -> {} (transcript seq {})\n", f->in,
                                    r.key, f->out, r.seq);
               });
      return 0;
    };
  });
}

}  // namespace hsm::cli
