// receipt verify | update | make, and the --receipt option of every command that signs: proofs
// (C2SP tlog-proof) that a signature hsmctl made is in the witnessed log.
#include <fmt/format.h>

#include <ostream>

#include "ceremonies/transcript/receipt_ops.h"
#include "cmd/cli.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm::cli {

namespace {

std::filesystem::path transcript_of(const Cli& cli) {
  const auto p = std::filesystem::path(cli.globals.dir) / "transcript.jsonl";
  if (!std::filesystem::exists(p))
    fail(Category::not_found, fmt::format("transcript '{}' does not exist", p.string()));
  return p;
}

std::string slurp_text(const std::string& path, const std::string& what) {
  const Bytes b = read_file(path, what);
  return std::string(b.begin(), b.end());
}

void add_receipt_verify(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string receipt, in, sig;
    std::vector<std::string> log_keys, witness_keys;
    std::size_t min_cosigners = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("verify", "check a receipt offline: the log key's "
                                    "checkpoint, the witnesses' cosignatures, the inclusion proof "
                                    "and, with --in/--sig, that it is about exactly those files");
  cmd->add_option("--receipt", o->receipt, "the receipt (c2sp.org/tlog-proof@v1)")->required()
      ->type_name("F");
  cmd->add_option("--log-key", o->log_keys, "the log's verifier key (vkey, or a file holding it, "
                  "as 'hsmctl transcript export-key --vkey' prints it)")->required()
      ->type_name("VKEY");
  cmd->add_option("--witness-key", o->witness_keys, "a trusted witness's verifier key (vkey or "
                  "file); repeat for each witness")->type_name("VKEY");
  cmd->add_option("--min-cosigners", o->min_cosigners, "trusted witnesses that must have "
                  "cosigned the receipt's checkpoint (default 0)")->type_name("K");
  cmd->add_option("--in", o->in, "the signed file: its SHA-256 must be the entry's")
      ->type_name("FILE");
  cmd->add_option("--sig", o->sig, "the signature, certificate, CSR or CRL made: its SHA-256 "
                  "must be the entry's")->type_name("SIG");
  with_example(cmd, "hsmctl receipt verify --receipt app.tar.gz.sig.tlog-proof --log-key log.vkey "
                    "\\\n    --witness-key w1.vkey --witness-key w2.vkey --min-cosigners 2 "
                    "--in app.tar.gz --sig app.tar.gz.sig");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      tlog::CheckpointPolicy policy;
      for (const auto& k : o->log_keys) policy.log_keys.push_back(vkey_arg(k));
      for (const auto& k : o->witness_keys) policy.witness_keys.push_back(vkey_arg(k));
      policy.min_cosigners = o->min_cosigners;
      if (policy.min_cosigners > policy.witness_keys.size())
        fail(Category::usage, fmt::format("--min-cosigners {} needs at least as many "
                                          "--witness-key options (got {})", policy.min_cosigners,
                                          policy.witness_keys.size()));
      std::optional<Bytes> in, sig;
      if (!o->in.empty()) in = read_file(o->in, "input file");
      if (!o->sig.empty()) sig = read_file(o->sig, "signature file");
      const ReceiptReport r =
          verify_receipt(slurp_text(o->receipt, "receipt"), policy, in, sig);
      const auto& c = r.checkpoint.checkpoint;
      nlohmann::json doc{{"ok", true}, {"receipt", o->receipt}, {"index", r.index},
                         {"event", r.event}, {"time", r.time}, {"actor", r.actor},
                         {"signer", r.signer}, {"input_sha256", r.input_sha256},
                         {"output_sha256", r.output_sha256}, {"input_checked", r.input_checked},
                         {"output_checked", r.output_checked}, {"origin", c.origin},
                         {"size", c.size}, {"root", tlog::to_base64(c.root)},
                         {"log_key", r.checkpoint.log_key}, {"cosigners", r.checkpoint.cosigners}};
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("receipt OK: entry {} ({}{}{}, {}) is in {} at size {}\n", r.index,
                           printable(r.event), r.signer.empty() ? "" : " by ",
                           printable(r.signer), r.time, printable(c.origin), c.size);
        std::string names;
        for (const auto& n : r.checkpoint.cosigners) names += (names.empty() ? "" : ", ") + n;
        out << fmt::format("cosigned by {} trusted witness{}{}\n", r.checkpoint.cosigners.size(),
                           r.checkpoint.cosigners.size() == 1 ? "" : "es",
                           names.empty() ? "" : " (" + printable(names) + ")");
        if (r.input_checked) out << fmt::format("{} is the signed file\n", printable(o->in));
        if (r.output_checked) out << fmt::format("{} is what was made\n", printable(o->sig));
      });
      return 0;
    };
  });
}

void add_update(Cli& cli, CLI::App* group) {
  auto receipt = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("update", "complete a receipt from the workspace log: the "
                                    "cosignatures its checkpoint gained since, or a newer "
                                    "checkpoint with more (offline; no token needed)");
  cmd->add_option("--receipt", *receipt, "the receipt to complete (rewritten in place)")
      ->required()->type_name("F");
  with_example(cmd, "hsmctl receipt update --receipt app.tar.gz.sig.tlog-proof");
  cmd->callback([&cli, receipt] {
    cli.action = [&cli, receipt] {
      const ReceiptUpdate u = update_receipt(transcript_of(cli),
                                             cli.globals.config.log_origin.value_or(""), *receipt);
      cli.emit({{"receipt", *receipt}, {"changed", u.changed}, {"old_size", u.old_size},
                {"size", u.size}, {"old_signatures", u.old_signatures},
                {"signatures", u.signatures}},
               [&](std::ostream& out) {
                 if (!u.changed)
                   out << fmt::format("{}: nothing new; its checkpoint (size {}) has {} "
                                      "signature{}\n", printable(*receipt), u.size, u.signatures,
                                      u.signatures == 1 ? "" : "s");
                 else
                   out << fmt::format("{}: checkpoint of size {} with {} signatures (was size {} "
                                      "with {})\n", printable(*receipt), u.size, u.signatures,
                                      u.old_size, u.old_signatures);
               });
      return 0;
    };
  });
}

void add_make(Cli& cli, CLI::App* group) {
  struct Opts {
    std::uint64_t seq = 0;
    std::string out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("make", "write the receipt of any logged entry against the "
                                    "last checkpoint (offline; no token needed)");
  cmd->add_option("--seq", o->seq, "the entry")->required()->type_name("N");
  cmd->add_option("--out", o->out, "receipt to write (never overwrites)")->required()
      ->type_name("F");
  with_example(cmd, "hsmctl receipt make --seq 41 --out entry-41.tlog-proof");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      check_receipt_path(o->out);
      write_new_file(o->out, as_bytes(make_receipt(transcript_of(cli), o->seq)), 0644);
      cli.emit({{"seq", o->seq}, {"receipt", o->out}}, [&](std::ostream& out) {
        out << fmt::format("receipt for entry {} -> {}\n", o->seq, printable(o->out));
      });
      return 0;
    };
  });
}

}  // namespace

CLI::Option* add_receipt_option(CLI::App* cmd, std::string& target) {
  return cmd->add_option("--receipt", target, "also write a receipt: the entry, its inclusion "
                         "proof and the cosigned checkpoint (default FILE: the output's name + "
                         ".tlog-proof)")
      ->expected(0, 1)
      ->type_name("[FILE]");
}

std::optional<std::filesystem::path> receipt_path(const CLI::Option* option,
                                                  const std::string& value,
                                                  const std::filesystem::path& out) {
  if (option == nullptr || option->count() == 0) return std::nullopt;
  std::filesystem::path p = value.empty() ? std::filesystem::path(out.string() + ".tlog-proof")
                                          : std::filesystem::path(value);
  check_receipt_path(p);
  return p;
}

void write_receipt_after(const Cli& cli, const std::optional<std::filesystem::path>& receipt,
                         std::uint64_t seq, nlohmann::json& doc) {
  if (!receipt) return;
  try {
    write_new_file(*receipt, as_bytes(make_receipt(transcript_of(cli), seq)), 0644);
  } catch (const Error& e) {
    throw Error(e.category(), fmt::format("the signature was made and logged (seq {}), but its "
                                          "receipt was not written: {}", seq, e.what()));
  }
  doc["receipt"] = receipt->string();
}

void print_receipt(std::ostream& out, const std::optional<std::filesystem::path>& receipt) {
  if (receipt) out << fmt::format("receipt -> {}\n", printable(receipt->string()));
}

void add_receipt_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("receipt", "receipts: proofs that a signature is in the "
                                       "witnessed log, checked offline");
  group->require_subcommand(1);
  add_receipt_verify(cli, group);
  add_update(cli, group);
  add_make(cli, group);
}

}  // namespace hsm::cli
