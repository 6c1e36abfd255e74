// data encrypt | decrypt and dek new | open | rewrap: data encrypted to an encryption group without any
// secret, decrypted (or its DEK opened) only by a member with their own factors.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/data/data_decrypt.h"
#include "ceremonies/data/data_encrypt.h"
#include "ceremonies/data/dek_rewrap.h"
#include "cmd/cli.h"
#include "cmd/factors.h"

namespace hsm::cli {

namespace {

struct MemberFactorArgs : FactorArgs {
  std::string as, in, out;
};

void add_decrypt_options(CLI::App* cmd, MemberFactorArgs& a, const std::string& in_help) {
  cmd->add_option("--as", a.as, "the member who opens the group key with their own factors")
      ->required()->type_name("USER");
  cmd->add_option("--in", a.in, in_help)->required()->type_name("FILE");
  add_factor_options(cmd, a, "that member's");
}

DataDecryptOptions decrypt_options(const Cli& cli, const MemberFactorArgs& a) {
  DataDecryptOptions o;
  o.as = a.as;
  o.in = a.in;
  o.out = a.out;
  o.factors = a.factors();
  o.max_auth_failures = max_auth_failures(cli);
  return o;
}

nlohmann::json context_json(const crypto::DekContext& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : c) j[k] = v;
  return j;
}

}  // namespace

void add_data_commands(Cli& cli) {
  auto* data = cli.app.add_subcommand("data", "encrypt files to an encryption group (no secret "
                                      "needed); decrypt them as a member, in the HSM");
  data->require_subcommand(1);

  auto eo = std::make_shared<DataEncryptOptions>();
  auto ein = std::make_shared<std::string>(), eout = std::make_shared<std::string>();
  auto* enc = data->add_subcommand("encrypt", "encrypt a file to a group's current key on this "
                                   "host: no token, PIN or password needed");
  enc->add_option("--group", eo->group, "the encryption group")->required()->type_name("GROUP");
  enc->add_option("--in", *ein, "file to encrypt (streamed: any size)")->required()
      ->type_name("FILE");
  enc->add_option("--out", *eout, "encrypted file to create (never overwritten)")->required()
      ->type_name("FILE");
  enc->add_option("--context", eo->context, "KEY=VALUE, a public fact bound to the data (repeatable); "
                  "decryption shows and records it")->type_name("PAIR");
  with_example(enc, "hsmctl data encrypt --group payroll --in march.csv --out march.csv.enc "
                    "--context table=salaries");
  enc->callback([&cli, eo, ein, eout] {
    cli.action = [&cli, eo, ein, eout] {
      eo->in = *ein;
      eo->out = *eout;
      Workspace ws(cli.workspace_options());
      const DataEncryption r = data_encrypt(ws, *eo);
      cli.emit({{"group", r.group}, {"key_version", r.key_version}, {"dek_id", r.dek_id},
                {"context", context_json(r.context)}, {"bytes", r.bytes}, {"chunks", r.chunks},
                {"out", *eout}},
               [&](std::ostream& out) {
                 out << fmt::format("encrypted '{}' to group '{}' (key version {}, DEK {}) -> "
                                    "'{}'\n", *ein, r.group, r.key_version, r.dek_id, *eout);
               });
      return 0;
    };
  });

  auto da = std::make_shared<MemberFactorArgs>();
  auto* dec = data->add_subcommand("decrypt", "decrypt a file as a member of its group: the "
                                   "token unwraps the DEK and decrypts every chunk");
  add_decrypt_options(dec, *da, "file made by 'hsmctl data encrypt'");
  dec->add_option("--out", da->out, "plaintext file to create (never overwritten; appears only "
                  "when every chunk authenticated)")->required()->type_name("FILE");
  with_example(dec, "hsmctl data decrypt --as alice --in march.csv.enc --out march.csv");
  dec->callback([&cli, da] {
    cli.action = [&cli, da] {
      const DataDecryptOptions o = decrypt_options(cli, *da);
      Workspace ws(cli.workspace_options());
      const DataDecryption r = data_decrypt(ws, o);
      cli.emit({{"group", r.envelope.group}, {"as", o.as},
                {"key_version", r.envelope.key_version}, {"dek_id", to_hex(r.envelope.dek_id)},
                {"context", context_json(r.envelope.context)}, {"bytes", r.bytes},
                {"chunks", r.chunks}, {"out", da->out}, {"seq", r.seq}},
               [&](std::ostream& out) {
                 out << fmt::format("decrypted '{}' as '{}' of group '{}' -> '{}' (transcript "
                                    "seq {})\n", da->in, o.as, r.envelope.group, da->out, r.seq);
               });
      return 0;
    };
  });
}

void add_dek_commands(Cli& cli) {
  auto* dek = cli.app.add_subcommand("dek", "wrapped data-encryption keys for applications that "
                                     "encrypt and decrypt themselves");
  dek->require_subcommand(1);

  auto no = std::make_shared<DekNewOptions>();
  auto nout = std::make_shared<std::string>();
  auto* made = dek->add_subcommand("new", "make a DEK wrapped to a group's current key; prints "
                                   "the DEK (hex) for the application, writes only the wrapped "
                                   "DEK");
  made->add_option("--group", no->group, "the encryption group")->required()->type_name("GROUP");
  made->add_option("--out", *nout, "wrapped DEK file to create (JSON; never overwritten)")
      ->required()->type_name("FILE");
  made->add_option("--context", no->context, "KEY=VALUE, a public fact bound to the DEK (repeatable)")
      ->type_name("PAIR");
  with_example(made, "hsmctl dek new --group payroll --out row-17.dek --context row=17");
  made->callback([&cli, no, nout] {
    cli.action = [&cli, no, nout] {
      no->out = *nout;
      Workspace ws(cli.workspace_options());
      const DekNew r = dek_new(ws, *no);
      const std::string hex = to_hex(r.dek.bytes());
      cli.emit({{"group", r.envelope.group}, {"key_version", r.envelope.key_version},
                {"dek_id", to_hex(r.envelope.dek_id)},
                {"context", context_json(r.envelope.context)}, {"dek", hex}, {"out", *nout}},
               [&](std::ostream& out) { out << hex << "\n"; });
      return 0;
    };
  });

  auto oa = std::make_shared<MemberFactorArgs>();
  auto* open = dek->add_subcommand("open", "print a wrapped DEK in hex as a member of its group "
                                   "(the DEK leaves the HSM; recorded as dek.opened)");
  add_decrypt_options(open, *oa, "a DEK file of 'hsmctl dek new' or a file of 'hsmctl data "
                                 "encrypt'");
  with_example(open, "hsmctl dek open --as alice --in row-17.dek");
  open->callback([&cli, oa] {
    cli.action = [&cli, oa] {
      const DataDecryptOptions o = decrypt_options(cli, *oa);
      Workspace ws(cli.workspace_options());
      const DekOpened r = dek_open(ws, o);
      const std::string hex = to_hex(r.dek.bytes());
      cli.emit({{"group", r.envelope.group}, {"as", o.as},
                {"key_version", r.envelope.key_version}, {"dek_id", to_hex(r.envelope.dek_id)},
                {"context", context_json(r.envelope.context)}, {"dek", hex}, {"seq", r.seq}},
               [&](std::ostream& out) { out << hex << "\n"; });
      return 0;
    };
  });

  auto wa = std::make_shared<MemberFactorArgs>();
  auto* rewrap = dek->add_subcommand("rewrap", "wrap a DEK to its group's current key version "
                                     "as a member; the DEK never leaves the HSM (data files: "
                                     "data decrypt | data encrypt)");
  add_decrypt_options(rewrap, *wa, "a DEK file of 'hsmctl dek new' (or of an earlier rewrap)");
  rewrap->add_option("--out", wa->out, "the rewrapped DEK file to create (JSON; never "
                     "overwritten)")->required()->type_name("FILE");
  with_example(rewrap, "hsmctl dek rewrap --as alice --in row-17.dek --out row-17.v2.dek");
  rewrap->callback([&cli, wa] {
    cli.action = [&cli, wa] {
      const DataDecryptOptions o = decrypt_options(cli, *wa);
      Workspace ws(cli.workspace_options());
      const DekRewrapped r = dek_rewrap(ws, o);
      cli.emit({{"group", r.to.group}, {"as", o.as}, {"from_version", r.from.key_version},
                {"key_version", r.to.key_version}, {"dek_id", to_hex(r.to.dek_id)},
                {"context", context_json(r.to.context)}, {"out", wa->out}, {"seq", r.seq}},
               [&](std::ostream& out) {
                 out << fmt::format("rewrapped DEK {} of group '{}' from key version {} to {} "
                                    "-> '{}' (transcript seq {})\n", to_hex(r.to.dek_id),
                                    r.to.group, r.from.key_version, r.to.key_version, wa->out,
                                    r.seq);
               });
      return 0;
    };
  });
}

}  // namespace hsm::cli
