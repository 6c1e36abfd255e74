// transcript checkpoint | prove | publish: the workspace log as a C2SP transparency log
// (tree heads, proofs, tiles) for witnesses, auditors and relying parties.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <ostream>
#include <sstream>

#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/receipt_ops.h"
#include "ceremonies/transcript/witness_client.h"
#include "cmd/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "core/tlog/merkle.h"
#include "core/tlog/tiles.h"
#include "core/transcript/appender.h"

namespace hsm::cli {

namespace {

std::filesystem::path workspace_transcript(const Cli& cli) {
  const auto p = std::filesystem::path(cli.globals.dir) / "transcript.jsonl";
  if (!std::filesystem::exists(p))
    fail(Category::not_found, fmt::format("transcript '{}' does not exist", p.string()));
  return p;
}

nlohmann::json hashes_json(const std::vector<tlog::Hash>& hashes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hashes) out.push_back(tlog::to_base64(h));
  return out;
}

// The size proofs default to: the kept checkpoint's, so the proof checks against it.
std::uint64_t default_size(const std::filesystem::path& file, tlog::TreeStore& tree) {
  if (const auto note = load_checkpoint(file)) return tlog::parse_checkpoint(note->text).size;
  return tree.size();
}

struct CheckpointOpts {
  std::string out, witness_ca;
  std::vector<std::string> witnesses, witness_keys;
  std::size_t min_cosigners = 0;
  bool min_given = false;
};

// The witnesses of --witness and --witness-key, paired by order; checked before the ceremony.
std::vector<WitnessTarget> witness_targets(const CheckpointOpts& o) {
  if (o.witnesses.size() != o.witness_keys.size())
    fail(Category::usage, fmt::format("give one --witness-key for each --witness, in the same "
                                      "order ({} URLs, {} keys)", o.witnesses.size(),
                                      o.witness_keys.size()));
  std::vector<WitnessTarget> out;
  for (std::size_t i = 0; i < o.witnesses.size(); ++i) {
    check_witness_url(o.witnesses[i]);
    const tlog::VerifierKey key = vkey_arg(o.witness_keys[i]);
    if (key.type != tlog::KeyType::cosignature_v1)
      fail(Category::usage, fmt::format("--witness-key '{}' is not a witness's cosignature key "
                                        "(type 0x04)", key.name));
    out.push_back({o.witnesses[i], key});
  }
  if (o.min_given && o.min_cosigners > out.size())
    fail(Category::usage, fmt::format("--min-cosigners {} is more than the {} witnesses given",
                                      o.min_cosigners, out.size()));
  if (!o.witness_ca.empty() && !std::filesystem::is_regular_file(o.witness_ca))
    fail(Category::not_found, fmt::format("--witness-ca '{}' does not exist", o.witness_ca));
  return out;
}

nlohmann::json answers_json(const std::vector<WitnessAnswer>& answers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : answers)
    out.push_back({{"url", a.url}, {"name", a.name}, {"ok", a.cosigned}, {"status", a.status},
                   {"old_size", a.old_size}, {"reason", a.message}});
  return out;
}

void add_checkpoint(Cli& cli, CLI::App* group) {
  auto o = std::make_shared<CheckpointOpts>();
  auto* cmd = group->add_subcommand("checkpoint", "sign a checkpoint of the whole log with the "
                                    "transcript key (a C2SP signed note; needs the token) and "
                                    "ask witnesses to cosign it");
  cmd->add_option("--out", o->out, "write the checkpoint to this new file instead of stdout")
      ->type_name("FILE");
  cmd->add_option("--witness", o->witnesses, "a witness's tlog-witness URL prefix (it serves "
                  "URL/add-checkpoint); repeatable, paired in order with --witness-key")
      ->type_name("URL");
  cmd->add_option("--witness-key", o->witness_keys, "the verifier key of the --witness in the "
                  "same position (vkey, or a file holding it)")->type_name("VKEY");
  auto* min = cmd->add_option("--min-cosigners", o->min_cosigners, "succeed when this many "
                              "witnesses cosigned (default: all given)")->type_name("K");
  cmd->add_option("--witness-ca", o->witness_ca, "PEM certificates to check https witnesses "
                  "against instead of the system's")->type_name("FILE");
  with_example(cmd, "hsmctl transcript checkpoint --witness https://w1.example.org "
                    "--witness-key w1.vkey --out checkpoint.txt");
  cmd->callback([&cli, o, min] {
    cli.action = [&cli, o, min] {
      o->min_given = min->count() > 0;
      const std::vector<WitnessTarget> targets = witness_targets(*o);
      Workspace ws(cli.workspace_options());
      tlog::Note note = checkpoint_ceremony(ws);
      const tlog::Checkpoint c = tlog::parse_checkpoint(note.text);
      std::vector<WitnessAnswer> answers;
      if (!targets.empty()) {
        const auto file = workspace_transcript(cli);
        transcript::Transcript t(file);
        answers = request_cosignatures(t, note, targets, o->witness_ca);
        if (auto kept = load_checkpoint_of_size(file, c.size)) note = *kept;
      }
      const std::string text = note.format();
      if (!o->out.empty()) write_new_file(o->out, as_bytes(text), 0644);
      nlohmann::json doc{{"origin", c.origin}, {"size", c.size},
                         {"root", tlog::to_base64(c.root)}, {"checkpoint", text},
                         {"witnesses", answers_json(answers)}};
      if (!o->out.empty()) doc["out"] = o->out;
      std::size_t cosigned = 0;
      bool refused = false;
      for (const auto& a : answers) {
        if (a.cosigned) ++cosigned;
        else refused = refused || a.failure == Category::integrity;
      }
      cli.emit(doc, [&](std::ostream& out) {
        if (o->out.empty()) out << text;
        else out << fmt::format("checkpoint of {} entries written to {}\n", c.size, o->out);
      });
      for (const auto& a : answers)
        if (!a.cosigned)
          std::cerr << printable(fmt::format("hsmctl: witness {} ({}) did not cosign: {}", a.name,
                                             a.url, a.message)) << '\n';
      const std::size_t needed = o->min_given ? o->min_cosigners : targets.size();
      if (cosigned < needed)
        fail(refused ? Category::integrity : Category::general,
             fmt::format("{} of {} witnesses cosigned the checkpoint of size {}, {} needed; the "
                         "cosignatures that came are kept", cosigned, targets.size(), c.size,
                         needed));
      return 0;
    };
  });
}

void add_prove(Cli& cli, CLI::App* group) {
  struct Opts {
    std::uint64_t seq = 0, size = 0;
    std::vector<std::uint64_t> consistency;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("prove", "an inclusion proof for entry --seq, or a "
                                    "consistency proof between two tree sizes (offline)");
  auto* seq = cmd->add_option("--seq", o->seq, "the entry to prove included")->type_name("N");
  cmd->add_option("--size", o->size, "tree size to prove against (default: the last "
                  "checkpoint's)")->type_name("M");
  auto* cons = cmd->add_option("--consistency", o->consistency, "prove tree size A is a prefix "
                               "of tree size B")->expected(2)->type_name("A B");
  seq->excludes(cons);
  with_example(cmd, "hsmctl transcript prove --seq 41 --json > proof.json");
  cmd->callback([&cli, o, seq, cons] {
    cli.action = [&cli, o, seq, cons] {
      if (seq->count() == 0 && cons->count() == 0)
        fail(Category::usage, "say what to prove: --seq N or --consistency A B");
      const auto file = workspace_transcript(cli);
      transcript::Transcript t(file);
      tlog::TreeStore& tree = t.tree();
      if (cons->count() > 0) {
        const std::uint64_t a = o->consistency[0], b = o->consistency[1];
        const auto proof = tlog::consistency_proof(tree, a, b);
        nlohmann::json doc{{"old_size", a}, {"size", b},
                           {"old_root", tlog::to_base64(tlog::tree_root(tree, a))},
                           {"root", tlog::to_base64(tlog::tree_root(tree, b))},
                           {"proof", hashes_json(proof)}};
        cli.emit(doc, [&](std::ostream& out) {
          out << fmt::format("old {}\n", a);  // the tlog-witness request's proof lines
          for (const auto& h : proof) out << tlog::to_base64(h) << '\n';
        });
        return 0;
      }
      const std::uint64_t size = o->size > 0 ? o->size : default_size(file, tree);
      const std::string line = read_entry_line(file, tree, o->seq);
      const auto proof = tlog::inclusion_proof(tree, o->seq, size);
      const tlog::Hash root = tlog::tree_root(tree, size);
      nlohmann::json doc{{"seq", o->seq}, {"size", size}, {"root", tlog::to_base64(root)},
                         {"leaf_hash", tlog::to_base64(tlog::leaf_hash(as_bytes(line)))},
                         {"entry", line}, {"proof", hashes_json(proof)}};
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("entry {} in tree size {}\nroot {}\n", o->seq, size,
                           tlog::to_base64(root));
        for (const auto& h : proof) out << tlog::to_base64(h) << '\n';
      });
      return 0;
    };
  });
}

void add_publish(Cli& cli, CLI::App* group) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("publish", "write or update a static copy of the log in "
                                    "the C2SP tlog-tiles layout, up to the last checkpoint "
                                    "(offline)");
  cmd->add_option("DIR", *dir, "directory to publish into (created if missing)")->required();
  with_example(cmd, "hsmctl transcript publish /srv/www/ceremony-log");
  cmd->callback([&cli, dir] {
    cli.action = [&cli, dir] {
      const auto file = workspace_transcript(cli);
      const auto note = load_checkpoint(file);
      if (!note)
        fail(Category::not_found, "the log has no checkpoint yet; make one with 'hsmctl "
                                  "transcript checkpoint'");
      const tlog::Checkpoint c = tlog::parse_checkpoint(note->text);
      const auto stats = publish_checkpoint_tiles(file, *note, *dir);
      cli.emit({{"dir", *dir}, {"size", c.size}, {"tiles_written", stats.tiles_written},
                {"bundles_written", stats.bundles_written}, {"kept", stats.kept}},
               [&](std::ostream& out) {
                 out << fmt::format("published {} entries to {}: {} tiles and {} entry "
                                    "bundles written, {} already there\n", c.size, *dir,
                                    stats.tiles_written, stats.bundles_written, stats.kept);
               });
      return 0;
    };
  });
}

void add_cosignatures_command(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string file;
    std::vector<std::string> witness_keys;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("add-cosignatures", "keep witnesses' cosignature lines with "
                                    "the checkpoints they sign (offline)");
  cmd->add_option("FILE", o->file, "cosignature lines, as 'hsmctl witness cosign' prints them")
      ->required();
  cmd->add_option("--witness-key", o->witness_keys, "verifier key of a witness whose lines are "
                  "accepted (vkey, or a file holding it)")->required()->type_name("VKEY");
  with_example(cmd, "hsmctl transcript add-cosignatures cosig-w1.txt --witness-key w1.vkey");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      const auto file = workspace_transcript(cli);
      std::vector<tlog::VerifierKey> keys;
      for (const auto& k : o->witness_keys) keys.push_back(vkey_arg(k));
      std::ifstream in(o->file, std::ios::binary);
      if (!in) fail(Category::not_found, fmt::format("cosignature file '{}' does not exist", o->file));
      std::ostringstream text;
      text << in.rdbuf();
      const auto sizes = add_cosignatures(file, text.str(), keys);
      cli.emit({{"added", sizes.size()}, {"sizes", sizes}}, [&](std::ostream& out) {
        for (std::uint64_t s : sizes) out << fmt::format("cosignature kept with the checkpoint of size {}\n", s);
      });
      return 0;
    };
  });
}

}  // namespace

void add_transcript_log_commands(Cli& cli, CLI::App* group) {
  add_checkpoint(cli, group);
  add_prove(cli, group);
  add_publish(cli, group);
  add_cosignatures_command(cli, group);
}

}  // namespace hsm::cli
