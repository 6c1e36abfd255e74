// transcript verify | head | show | export-key | note | export | join: what an auditor and
// witnesses use, and a fleet's node (show is in cmd/transcript_show.cpp).
#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/fleet_ops.h"
#include "ceremonies/transcript/transcript_ops.h"
#include "cmd/cli.h"
#include "cmd/progress.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/tlog/log_check.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/pgp_words.h"
#include "core/transcript/verify.h"

namespace hsm::cli {

void add_transcript_show(Cli& cli, CLI::App* group);  // cmd/transcript_show.cpp

namespace {

// FILE, or the transcript of the workspace (refused when DIR is not one).
std::filesystem::path transcript_path(const Cli& cli, const std::string& given) {
  if (!given.empty()) return given;
  require_workspace(cli.globals.dir);
  return std::filesystem::path(cli.globals.dir) / "transcript.jsonl";
}

std::string slurp(const std::filesystem::path& p, const char* what = "transcript") {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("{} '{}' does not exist", what, p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A head is the 64 hex digits `transcript head` prints. Anything shorter or not hex is a
// typing mistake (exit 2), never reported as tampering; upper case is read as lower.
std::string checked_head(const std::string& given) {
  std::string head = given;
  bool hex = head.size() == 64;
  for (char& c : head) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) hex = false;
  }
  if (!hex)
    fail(Category::usage, fmt::format("--head '{}' is not a transcript head: give all 64 hex "
                                      "digits that 'hsmctl transcript head' prints", given));
  return head;
}

nlohmann::json report_json(const transcript::VerifyReport& r, const std::string& file) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : r.key_changes)
    changes.push_back({{"seq", c.seq}, {"old_fingerprint", c.old_fingerprint},
                       {"new_fingerprint", c.new_fingerprint}, {"endorsed", c.endorsed}});
  nlohmann::json j{{"file", file}, {"ok", r.ok}, {"entries", r.entries},
                   {"ceremonies", r.ceremonies}, {"head", r.head},
                   {"first_key_fingerprint", r.first_key_fingerprint},
                   {"first_key_trusted", r.trusted_first_key}, {"key_changes", changes},
                   {"torn_last_line", r.torn_last_line}, {"unsigned_entries", r.unsigned_entries}};
  if (!r.nodes.empty()) j["nodes"] = r.nodes;  // a fleet's transcript: entries per node
  if (r.bad_seq) {
    j["bad_seq"] = *r.bad_seq;
    j["reason"] = r.reason;
  }
  return j;
}

tlog::CheckpointReport check_against_checkpoint(const std::string& content,
                                                const transcript::VerifyReport& r,
                                                const std::string& note,
                                                const std::vector<std::string>& log_keys,
                                                const std::vector<std::string>& witness_keys,
                                                std::size_t min_cosigners) {
  tlog::CheckpointPolicy p;
  p.min_cosigners = min_cosigners;
  for (const auto& w : witness_keys) p.witness_keys.push_back(vkey_arg(w));
  if (!log_keys.empty()) {
    for (const auto& k : log_keys) p.log_keys.push_back(vkey_arg(k));
  } else {  // the log's own keys, under the origin the checkpoint names
    const std::string origin = tlog::parse_checkpoint(tlog::parse_note(note).text).origin;
    for (const Bytes& spki : r.keys) p.log_keys.push_back({origin, tlog::KeyType::ecdsa, spki});
  }
  tlog::CheckpointReport cp = tlog::check_checkpoint(note, p);
  tlog::check_log_matches(content, cp.checkpoint);
  return cp;
}

void add_verify(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string file, pubkey, head, checkpoint;
    std::vector<std::string> log_keys, witness_keys;
    std::size_t min_cosigners = 0;
    bool strict = false, repair = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("verify", "check every hash, link, seq and signature of a "
                                    "transcript (offline; no token needed)");
  cmd->add_option("FILE", o->file, "transcript to check (default: DIR/transcript.jsonl)");
  cmd->add_option("--pubkey", o->pubkey, "PEM public key the transcript must have been opened "
                  "with (without it, entry 0's key is taken on trust)")->type_name("F");
  cmd->add_option("--head", o->head, "the head (64 hex digits, as 'hsmctl transcript head' "
                  "prints it) the transcript must end at exactly (catches truncation)")
      ->type_name("HEX");
  cmd->add_flag("--strict", o->strict, "fail on an unendorsed transcript key change");
  cmd->add_option("--checkpoint", o->checkpoint, "a (cosigned) checkpoint the log must match: "
                  "catches a truncated, rewritten or forked log")->type_name("FILE");
  cmd->add_option("--log-key", o->log_keys, "the log's verifier key (vkey, or a file holding "
                  "it) that must have signed the checkpoint (default: a transcript key of the "
                  "log itself)")->type_name("VKEY");
  cmd->add_option("--witness-key", o->witness_keys, "a trusted witness's verifier key (vkey, or "
                  "a file holding it); repeat for each witness")->type_name("VKEY");
  cmd->add_option("--min-cosigners", o->min_cosigners, "trusted witnesses that must have "
                  "cosigned the checkpoint (default 0)")->type_name("K");
  cmd->add_flag("--repair", o->repair, "cut a torn last line and an unsealed tail (needs the "
                "token) and record what was cut, then verify");
  with_example(cmd, "hsmctl transcript verify /media/usb/transcript.jsonl --pubkey "
                    "transcript-key.pem --head \\\n    "
                    "36a827d2f6f453ea4e8b280f76f7fce054b42c273b5fcdb20044792b1f21d956\n"
                    "  (HEX: all 64 digits 'hsmctl transcript head' printed at the end of the "
                    "ceremony)");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      const std::string head = o->head.empty() ? std::string() : checked_head(o->head);
      const auto path = transcript_path(cli, o->file);
      if (o->repair) {
        WorkspaceOptions wo = cli.workspace_options();
        if (!o->file.empty()) wo.dir = path.parent_path();
        Workspace ws(wo);
        const TranscriptRepair cut = repair_transcript(ws);
        if (cut.torn_bytes > 0 && !cli.globals.json)
          fmt::print(stderr, "hsmctl: cut a torn last line of {} bytes and recorded it\n",
                     cut.torn_bytes);
        if (cut.unsealed_entries > 0 && !cli.globals.json)
          fmt::print(stderr, "hsmctl: cut an unsealed tail of {} unsigned entries, kept a copy "
                     "and recorded it\n", cut.unsealed_entries);
      }
      transcript::VerifyOptions vo;
      vo.strict = o->strict;
      if (!head.empty()) vo.head = head;
      if (!o->pubkey.empty())
        vo.trusted_key = crypto::spki_der(crypto::load_public_pem(slurp(o->pubkey, "public key file")).get());
      ProgressBar bar("verifying (bytes)");
      vo.on_progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
      const std::string content = slurp(path);
      const auto r = transcript::verify_transcript(content, vo);
      bar.finish();
      if (!r.ok) {
        if (cli.globals.json) cli.emit(report_json(r, path.string()), [](std::ostream&) {});
        fail(Category::integrity, fmt::format("transcript '{}' fails at seq {}: {}",
                                              path.string(), r.bad_seq.value_or(0), r.reason));
      }
      nlohmann::json doc = report_json(r, path.string());
      std::optional<tlog::CheckpointReport> cp;
      if (!o->checkpoint.empty()) {
        cp = check_against_checkpoint(content, r, slurp(o->checkpoint, "checkpoint"),
                                      o->log_keys, o->witness_keys, o->min_cosigners);
        doc["checkpoint"] = {{"origin", cp->checkpoint.origin}, {"size", cp->checkpoint.size},
                             {"root", tlog::to_base64(cp->checkpoint.root)},
                             {"log_key", cp->log_key}, {"cosigners", cp->cosigners}};
      }
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("transcript OK: {} entries, {} ceremonies\nhead {}\n", r.entries,
                           r.ceremonies, r.head);
        out << fmt::format("opened by key {}{}\n", r.first_key_fingerprint,
                           r.trusted_first_key ? " (taken on trust: pass --pubkey to check it)"
                                               : " (matches --pubkey)");
        if (r.unsigned_entries > 0)
          out << fmt::format("{} entries covered by the signature of a later entry of their "
                             "ceremony (a signing service's batches)\n", r.unsigned_entries);
        if (!r.nodes.empty()) {
          std::string nodes;
          for (const auto& [node, n] : r.nodes)
            nodes += fmt::format("{}{} ({})", nodes.empty() ? "" : ", ", node, n);
          out << "entries by node: " << nodes << "\n";
        }
        for (const auto& c : r.key_changes)
          out << fmt::format("key change at seq {}: {} -> {}{}\n", c.seq, c.old_fingerprint,
                             c.new_fingerprint, c.endorsed ? " (endorsed)" : " (UNENDORSED)");
        if (cp)
          out << fmt::format("checkpoint OK: the first {} entries have its root; signed by the "
                             "log key{}; cosigned by {} trusted witness{}{}\n",
                             cp->checkpoint.size, o->log_keys.empty() ? " (of the log itself)" : "",
                             cp->cosigners.size(), cp->cosigners.size() == 1 ? "" : "es",
                             cp->cosigners.empty() ? "" : " (" + [&] {
                               std::string n;
                               for (const auto& c : cp->cosigners) n += (n.empty() ? "" : ", ") + c;
                               return n;
                             }() + ")");
      });
      return 0;
    };
  });
}

void add_head(Cli& cli, CLI::App* group) {
  auto file = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("head", "print the transcript head in hex and as PGP words, "
                                    "for witnesses to read aloud and write down");
  cmd->add_option("FILE", *file, "transcript (default: DIR/transcript.jsonl)");
  with_example(cmd, "hsmctl --dir /ceremony transcript head");
  cmd->callback([&cli, file] {
    cli.action = [&cli, file] {
      transcript::Transcript t(transcript_path(cli, *file));
      if (!std::filesystem::exists(t.file()))
        fail(Category::not_found, fmt::format("transcript '{}' does not exist", t.file().string()));
      const auto st = t.state();
      const std::string words = transcript::pgp_words(from_hex(st.head));
      cli.emit({{"head", st.head}, {"pgp_words", words}, {"entries", st.entries}},
               [&](std::ostream& out) {
                 out << fmt::format("head after {} entries:\n  {}\n  {}\n", st.entries, st.head,
                                    words);
               });
      return 0;
    };
  });
}

void add_export_key(Cli& cli, CLI::App* group) {
  auto file = std::make_shared<std::string>();
  auto opening = std::make_shared<bool>(false);
  auto vkey = std::make_shared<bool>(false);
  auto* cmd = group->add_subcommand("export-key", "print the current transcript public key as "
                                    "PEM (for openssl); --opening: the key of entry 0 (for "
                                    "verify --pubkey)");
  cmd->add_option("FILE", *file, "transcript (default: DIR/transcript.jsonl)");
  cmd->add_flag("--opening", *opening, "the key the transcript was opened with (entry 0)");
  cmd->add_flag("--vkey", *vkey, "print it as the log's C2SP verifier key (name+keyid+base64, "
                "the name being the checkpoints' origin), for witnesses and relying parties");
  with_example(cmd, "hsmctl transcript export-key > transcript-key.pem");
  cmd->callback([&cli, file, opening, vkey] {
    cli.action = [&cli, file, opening, vkey] {
      transcript::Transcript t(transcript_path(cli, *file));
      if (!std::filesystem::exists(t.file()))
        fail(Category::not_found, fmt::format("transcript '{}' does not exist", t.file().string()));
      const auto st = t.state();
      Bytes key = st.current_key;
      if (*opening) {
        std::istringstream in(slurp(t.file()));
        std::string first;
        std::getline(in, first);
        const auto e = transcript::entry_from_json(transcript::parse_canonical_line(first));
        key = from_base64(e.data.value("public_key", ""));
      }
      const std::string pem = crypto::spki_pem(key);
      nlohmann::json doc{{"public_key_pem", pem}, {"fingerprint", crypto::fingerprint(key)}};
      std::string vk;
      if (*vkey) {
        vk = log_verifier_key(log_origin(cli.globals.config.log_origin.value_or(""), t.tree()), key)
                 .format();
        doc["vkey"] = vk;
      }
      cli.emit(doc, [&](std::ostream& out) { out << (*vkey ? vk + "\n" : pem); });
      return 0;
    };
  });
}

void add_note(Cli& cli, CLI::App* group) {
  auto o = std::make_shared<NoteOptions>();
  auto* cmd = group->add_subcommand("note", "record a witness's statement in the transcript "
                                    "(signed by the token)");
  cmd->add_option("TEXT", o->text, "the statement")->required();
  cmd->add_option("--witness", o->witness, "who makes the statement")->required()
      ->type_name("NAME");
  with_example(cmd, "hsmctl transcript note --witness carol \"tamper bag 4411 intact\"");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      Workspace ws(cli.workspace_options());
      const auto e = record_note(ws, *o);
      cli.emit({{"seq", e.seq}, {"head", e.hash}}, [&](std::ostream& out) {
        out << fmt::format("recorded as seq {}; transcript head now {}\n", e.seq, e.hash);
      });
      return 0;
    };
  });
}

void add_export(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string out, tiles;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("export", "write the whole transcript to a new JSONL file "
                                    "(on a fleet's node: the fleet's, from the database), and "
                                    "its tiles if asked, for auditors");
  cmd->add_option("--out", o->out, "the JSONL file to write (never over an existing one)")
      ->required()->type_name("FILE");
  cmd->add_option("--tiles", o->tiles, "also write the log in the C2SP tlog-tiles layout, up "
                  "to the last checkpoint, into this new directory")->type_name("DIR");
  with_example(cmd, "hsmctl transcript export --out fleet-2026-12.jsonl --tiles fleet-tiles\n"
                    "  scripts/verify-transcript fleet-2026-12.jsonl");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      ExportOptions eo;
      eo.out = o->out;
      if (!o->tiles.empty()) eo.tiles = o->tiles;
      eo.validate();  // before the workspace is opened
      Workspace ws(cli.workspace_options());
      const ExportResult r = export_transcript(ws, eo);
      nlohmann::json doc{{"file", o->out}, {"entries", r.entries}, {"head", r.head},
                         {"from", r.from_database ? "database" : "file"}};
      if (r.tiles_size) doc["tiles"] = {{"dir", o->tiles}, {"size", *r.tiles_size}};
      cli.emit(doc, [&](std::ostream& out) {
        out << fmt::format("exported {} entries (from the {}) to {}\nhead {}\n", r.entries,
                           r.from_database ? "fleet's database" : "workspace's file", o->out,
                           r.head);
        if (r.tiles_size)
          out << fmt::format("tiles of the first {} entries in {}\n", *r.tiles_size, o->tiles);
      });
      return 0;
    };
  });
}

void add_join(Cli& cli, CLI::App* group) {
  auto* cmd = group->add_subcommand("join", "make DIR a node of the fleet whose keystore is the "
                                    "PostgreSQL store given: copy and check the fleet's "
                                    "transcript, then record fleet.join with this token");
  with_example(cmd, "hsmctl --dir /srv/node-b --token node-b transcript join  # store = and "
                    "node = in /srv/node-b/hsmctl.toml");
  cmd->callback([&cli] {
    cli.action = [&cli] {
      Workspace ws(cli.workspace_options(DirUse::start));
      const JoinResult r = join_fleet(ws);
      cli.emit({{"node", r.node}, {"seq", r.seq}, {"entries", r.entries}},
               [&](std::ostream& out) {
                 out << fmt::format("node '{}' joined the fleet's transcript (fleet.join at seq "
                                    "{}; {} entries)\n", r.node, r.seq, r.entries);
               });
      return 0;
    };
  });
}

}  // namespace

void add_transcript_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("transcript", "verify, show and read out the signed "
                                       "ceremony transcript");
  group->require_subcommand(1);
  add_verify(cli, group);
  add_head(cli, group);
  add_transcript_show(cli, group);
  add_export_key(cli, group);
  add_note(cli, group);
  add_export(cli, group);
  add_join(cli, group);
  add_transcript_log_commands(cli, group);
  add_transcript_monitor_command(cli, group);
}

}  // namespace hsm::cli
