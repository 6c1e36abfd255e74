// transcript verify | head | show | export-key | note: what an auditor and witnesses use.
#include <fmt/format.h>

#include <fstream>
#include <ostream>
#include <sstream>

#include "ceremonies/transcript/transcript_ops.h"
#include "cmd/cli.h"
#include "cmd/progress.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/pgp_words.h"
#include "core/transcript/verify.h"

namespace hsm::cli {

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
                   {"torn_last_line", r.torn_last_line}};
  if (r.bad_seq) {
    j["bad_seq"] = *r.bad_seq;
    j["reason"] = r.reason;
  }
  return j;
}

void add_verify(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string file, pubkey, head;
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
  cmd->add_flag("--repair", o->repair, "cut a torn last line (needs the token) and record "
                "transcript.repaired, then verify");
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
        if (const std::size_t cut = repair_transcript(ws); cut > 0 && !cli.globals.json)
          fmt::print(stderr, "hsmctl: cut a torn last line of {} bytes and recorded it\n", cut);
      }
      transcript::VerifyOptions vo;
      vo.strict = o->strict;
      if (!head.empty()) vo.head = head;
      if (!o->pubkey.empty())
        vo.trusted_key = crypto::spki_der(crypto::load_public_pem(slurp(o->pubkey, "public key file")).get());
      ProgressBar bar("verifying (bytes)");
      vo.on_progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
      const auto r = transcript::verify_transcript(slurp(path), vo);
      bar.finish();
      if (!r.ok) {
        if (cli.globals.json) cli.emit(report_json(r, path.string()), [](std::ostream&) {});
        fail(Category::integrity, fmt::format("transcript '{}' fails at seq {}: {}",
                                              path.string(), r.bad_seq.value_or(0), r.reason));
      }
      cli.emit(report_json(r, path.string()), [&](std::ostream& out) {
        out << fmt::format("transcript OK: {} entries, {} ceremonies\nhead {}\n", r.entries,
                           r.ceremonies, r.head);
        out << fmt::format("opened by key {}{}\n", r.first_key_fingerprint,
                           r.trusted_first_key ? " (taken on trust: pass --pubkey to check it)"
                                               : " (matches --pubkey)");
        for (const auto& c : r.key_changes)
          out << fmt::format("key change at seq {}: {} -> {}{}\n", c.seq, c.old_fingerprint,
                             c.new_fingerprint, c.endorsed ? " (endorsed)" : " (UNENDORSED)");
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

void add_show(Cli& cli, CLI::App* group) {
  struct Opts {
    std::string file, ceremony;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("show", "list the transcript's events as a table");
  cmd->add_option("FILE", o->file, "transcript (default: DIR/transcript.jsonl)");
  cmd->add_option("--ceremony", o->ceremony, "only this ceremony id (or a prefix of it)")
      ->type_name("ID");
  with_example(cmd, "hsmctl transcript show --ceremony 3f2a");
  cmd->callback([&cli, o] {
    cli.action = [&cli, o] {
      const std::string content = slurp(transcript_path(cli, o->file));
      nlohmann::json doc = nlohmann::json::array();
      std::istringstream in(content);
      for (std::string line; std::getline(in, line);) {
        nlohmann::json e;
        try {
          e = transcript::parse_canonical_line(line);
        } catch (const Error&) {
          continue;  // a torn line; `verify` reports it
        }
        if (!o->ceremony.empty() && e.value("ceremony", "").rfind(o->ceremony, 0) != 0) continue;
        e.erase("sig");
        doc.push_back(e);
      }
      cli.emit({{"entries", doc}}, [&](std::ostream& out) {
        out << fmt::format("{:>5}  {:<20}  {:<8}  {:<26}  {:<10}  {}\n", "SEQ", "TIME",
                           "CEREMONY", "EVENT", "ACTOR", "DATA");
        for (const auto& e : doc)
          out << fmt::format("{:>5}  {:<20}  {:<8}  {:<26}  {:<10}  {}\n",
                             e.value("seq", 0ULL), e.value("time", ""),
                             e.value("ceremony", "").substr(0, 8), e.value("event", ""),
                             e.value("actor", ""), transcript::canonical_json(e["data"]));
      });
      return 0;
    };
  });
}

void add_export_key(Cli& cli, CLI::App* group) {
  auto file = std::make_shared<std::string>();
  auto opening = std::make_shared<bool>(false);
  auto* cmd = group->add_subcommand("export-key", "print the current transcript public key as "
                                    "PEM (for openssl); --opening: the key of entry 0 (for "
                                    "verify --pubkey)");
  cmd->add_option("FILE", *file, "transcript (default: DIR/transcript.jsonl)");
  cmd->add_flag("--opening", *opening, "the key the transcript was opened with (entry 0)");
  with_example(cmd, "hsmctl transcript export-key > transcript-key.pem");
  cmd->callback([&cli, file, opening] {
    cli.action = [&cli, file, opening] {
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
      cli.emit({{"public_key_pem", pem}, {"fingerprint", crypto::fingerprint(key)}},
               [&](std::ostream& out) { out << pem; });
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

}  // namespace

void add_transcript_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("transcript", "verify, show and read out the signed "
                                       "ceremony transcript");
  group->require_subcommand(1);
  add_verify(cli, group);
  add_head(cli, group);
  add_show(cli, group);
  add_export_key(cli, group);
  add_note(cli, group);
}

}  // namespace hsm::cli
