// Consistency checks of keystore vs transcript vs token; see doctor.h.
#include "ceremonies/doctor/doctor.h"

#include "ceremonies/doctor/doctor_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/keys/signing_keys.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/error.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/objects.h"
#include "core/transcript/appender.h"
#include "core/transcript/entry.h"
#include "core/transcript/fleet_log.h"
#include "core/transcript/verify.h"

namespace hsm {

namespace {

using Findings = std::vector<DoctorFinding>;

void keystore_checks(keystore::Keystore& ks, Findings& out) {
  const auto problems = ks.integrity_check();
  if (problems.empty())
    out.push_back({"keystore", "ok", fmt::format("integrity and foreign keys hold; schema {}",
                                                 ks.schema_version())});
  for (const auto& p : problems) out.push_back({"keystore", "problem", p});
}

// Every ceremony.begin needs an end: ceremony.end or ceremony.aborted of its own, or a later
// entry that closes it (ceremony.unsigned-end/-failure, ceremony.interrupted), or a record in
// transcript.pending.jsonl waiting to be entered. A begin without any is a ceremony whose
// process died mid-way: what it did is not known from the transcript.
void unended_ceremony_checks(const std::string& content, const std::filesystem::path& dir,
                             Findings& out) {
  struct Begun {
    std::uint64_t seq;
    std::string what;
  };
  std::map<std::string, Begun> open;
  std::vector<std::string> order;
  std::istringstream lines(content);
  for (std::string line; std::getline(lines, line);) {
    transcript::Entry e;
    try {
      e = transcript::entry_from_json(nlohmann::json::parse(line));
    } catch (const std::exception&) {
      continue;  // a bad line is the chain check's finding
    }
    if (e.event == "ceremony.begin") {
      open[e.ceremony] = {e.seq, e.data.is_object() ? e.data.value("what", "") : ""};
      order.push_back(e.ceremony);
      continue;
    }
    for (auto it = open.begin(); it != open.end();)
      it = transcript::closes_ceremony(e, it->first) ? open.erase(it) : std::next(it);
  }
  std::set<std::string> pending;
  std::ifstream in(dir / "transcript.pending.jsonl");
  for (std::string line; std::getline(in, line);) {
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("ceremony") && j["ceremony"].is_string()) pending.insert(j["ceremony"]);
    } catch (const std::exception&) {
    }
  }
  for (const std::string& id : order) {
    const auto it = open.find(id);
    if (it == open.end()) continue;
    const Begun& b = it->second;
    if (pending.count(id) != 0) {
      out.push_back({"transcript", "note",
                     fmt::format("ceremony {} ({}, begun at seq {}) ended unsigned; its end is "
                                 "waiting in transcript.pending.jsonl", id, b.what, b.seq)});
      continue;
    }
    out.push_back({"transcript", "problem",
                   fmt::format("ceremony {} ({}, begun at seq {}) has no end: its process was "
                               "killed or crashed mid-way. Check what it left (the findings "
                               "below, 'master status', 'user list'); the next ceremony records "
                               "it as interrupted", id, b.what, b.seq)});
  }
}

// Returns the hex CKA_ID of the transcript's current key ("" when unknown).
std::string transcript_checks(const std::optional<std::string>& content,
                              const std::filesystem::path& dir, Findings& out) {
  const auto file = dir / "transcript.jsonl";
  if (!content) {
    out.push_back({"transcript", "note", "no transcript yet"});
    return {};
  }
  const transcript::VerifyReport r = transcript::verify_transcript(*content, {});
  if (r.ok)
    out.push_back({"transcript", "ok", fmt::format("{} entries, {} ceremonies, head {}", r.entries,
                                                   r.ceremonies, r.head)});
  else if (r.torn_last_line)
    out.push_back({"transcript", "problem",
                   fmt::format("{} entries verify, then one torn last line (an interrupted "
                               "append); 'transcript verify --repair' cuts it", r.entries)});
  else
    out.push_back({"transcript", "problem",
                   fmt::format("entry {}: {}", r.bad_seq ? std::to_string(*r.bad_seq) : "?", r.reason)});
  unended_ceremony_checks(*content, dir, out);
  std::error_code ec;
  if (std::filesystem::exists(dir / "transcript.pending.jsonl", ec))
    out.push_back({"transcript", "note", "failures recorded before login are waiting in "
                                         "transcript.pending.jsonl; the next ceremony enters them"});
  // Unsealed tails cut by a ceremony (a batch killed before its seal, or lines added without
  // the key): each recorded by a transcript.unsealed-cut entry, its lines kept for a look.
  std::vector<std::string> cut;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name.starts_with("transcript.unsealed-") && name.ends_with(".jsonl")) cut.push_back(name);
  }
  std::sort(cut.begin(), cut.end());
  // Each copy is named by the transcript.unsealed-cut entry that records its cut; a copy that
  // none names was cut by a process that died before it could record the cut.
  for (const std::string& name : cut)
    if (content->find("\"copy\":\"" + name + "\"") == std::string::npos)
      out.push_back({"transcript", "problem",
                     fmt::format("{} holds an unsealed tail that was cut, but no "
                                 "transcript.unsealed-cut entry records the cut (the process "
                                 "died between the two): look at what it held", name)});
  if (!cut.empty()) {
    const std::size_t shown = std::min<std::size_t>(cut.size(), 3);
    const std::string more = cut.size() > shown ? fmt::format(" and {} more", cut.size() - shown) : "";
    out.push_back({"transcript", "note",
                   fmt::format("{} unsealed tail(s) were cut and recorded (transcript.unsealed-cut); "
                               "their lines are kept in {}{}", cut.size(),
                               fmt::join(cut.begin(), cut.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                               more)});
  }
  if (!r.ok) return {};
  try {
    return transcript::Transcript(file).state().current_key_id;
  } catch (const Error&) {
    return {};
  }
}

void token_checks(Workspace& ws, keystore::Keystore& ks, const std::string& transcript_key_id,
                  Findings& out) {
  const p11::Session& s = ws.login();
  const auto record = ks.master();
  const auto mk = find_master_keys(s);
  const std::string token = ws.token().label;
  if (record && !mk)
    out.push_back({"master", "problem", fmt::format("the workspace has a master (KCV {}) but token "
                                                    "'{}' holds no master key; run 'master "
                                                    "restore'", record->kcv, token)});
  else if (!record && mk)
    out.push_back({"master", "note", fmt::format("token '{}' holds a master key (KCV {}) this "
                                                 "workspace has no record of", token, mk->kcv)});
  else if (record && mk && !mk->kcv.empty() && record->kcv != mk->kcv)  // empty: none reported
    out.push_back({"master", "problem", fmt::format("token '{}' holds master KCV {}, the workspace "
                                                    "records {}", token, mk->kcv, record->kcv)});
  else if (record)
    out.push_back({"master", "ok", fmt::format("KCV {} on token '{}'", record->kcv, token)});

  const auto objects = p11::list_objects(s);
  std::set<Bytes> known_ids;
  for (const auto& k : ks.list_keys()) {
    const Bytes id = from_hex(k.key_id);
    known_ids.insert(id);
    const bool on_token = p11::find_private_key(s, id).has_value();
    const std::string name = "key:" + k.label;
    if (k.escrow == "qk") {
      out.push_back(on_token ? DoctorFinding{name, "problem", "a quorum key has a private key "
                                                              "object on the token"}
                             : DoctorFinding{name, "ok", "quorum key: no token object"});
    } else if (k.purpose == "transcript" && k.key_id != transcript_key_id) {
      continue;  // an earlier transcript key: it need not be on this token
    } else if (k.status == "active" && !on_token) {
      out.push_back({name, "problem", fmt::format("no private key with id {} on token '{}'{}",
                                                  k.key_id, token,
                                                  k.escrow == "mk-wrap" ? "; 'backup restore' "
                                                                          "brings it back" : "")});
    } else {
      out.push_back({name, "ok", "on the token"});
    }
  }
  // hsmctl's signing-key objects must all be known to the keystore (a crash between making the
  // token object and recording it would leave one behind).
  const std::string prefix = token_label("");
  for (const auto& o : objects) {
    if (!o.label.starts_with(prefix) || known_ids.count(o.id) != 0) continue;
    out.push_back({"object:" + o.label, "problem",
                   fmt::format("{} with id {} is not in the keystore (orphan)", o.object_class,
                               to_hex(o.id))});
  }
}

// A fleet's node: the local replica line by line against the database's transcript (the first
// seq that differs, or entries the database does not have), and the nodes seen.
void fleet_checks(Workspace& ws, const std::string& fleet_content, Findings& out) {
  if (!ws.fleet_sync_error().empty())
    out.push_back({"fleet", "problem", "the local replica cannot follow the fleet's transcript: " +
                                           ws.fleet_sync_error()});
  std::ifstream in(ws.options().dir / "transcript.jsonl", std::ios::binary);
  std::istringstream theirs(fleet_content);
  std::uint64_t seq = 0;
  std::string mine_line, their_line;
  for (;; ++seq) {
    const bool have_mine = static_cast<bool>(std::getline(in, mine_line));
    const bool have_theirs = static_cast<bool>(std::getline(theirs, their_line));
    if (!have_mine) break;  // a replica behind the database is caught up by the next ceremony
    if (!have_theirs || mine_line != their_line) {
      out.push_back({"fleet", "problem",
                     fmt::format("the local replica (transcript.jsonl) differs from the fleet's "
                                 "transcript at seq {}{}: it was edited, or belongs to another "
                                 "transcript; move it away and the next ceremony copies the "
                                 "fleet's", seq, have_theirs ? "" : " (the database has no such "
                                                                    "entry)")});
      break;
    }
  }
  std::string nodes;
  for (const auto& [node, n] : ws.fleet_log()->entries_per_node())
    nodes += fmt::format("{}{} ({})", nodes.empty() ? "" : ", ", node.empty() ? "?" : node, n);
  out.push_back({"fleet", "ok", fmt::format("the fleet's transcript on {}: entries by node {}",
                                            ws.fleet_log()->server(), nodes)});
}

std::optional<std::string> read_transcript(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::vector<DoctorFinding> doctor(Workspace& ws, const DoctorOptions& options) {
  Findings out;
  const auto dir = ws.options().dir;
  if (!ws.has_keystore())
    fail(Category::not_found, fmt::format("'{}' is not an hsmctl workspace (no keystore.sqlite)",
                                          dir.string()));
  keystore::Keystore& ks = ws.keystore();  // a fleet's replica is brought up to date here
  keystore_checks(ks, out);
  // On a fleet, the transcript checked (and the keystore checked against) is the database's:
  // every node's changes are in it.
  std::optional<std::string> content;
  if (transcript::FleetLog* fleet = ws.fleet_log()) {
    std::string all;
    for (std::uint64_t from = 0;;) {
      const auto lines = fleet->lines_from(from, 4096);
      if (lines.empty()) break;
      for (const std::string& line : lines) all += line + '\n';
      from += lines.size();
    }
    if (!all.empty()) content = std::move(all);
    fleet_checks(ws, content.value_or(""), out);
  } else {
    content = read_transcript(dir / "transcript.jsonl");
  }
  const std::string current = transcript_checks(content, dir, out);
  // Against a transcript that verifies: the keystore is what it recorded.
  const bool transcript_ok =
      content.has_value() &&
      std::none_of(out.begin(), out.end(), [](const DoctorFinding& f) {
        return f.check == "transcript" && f.status == "problem";
      });
  if (transcript_ok) keystore_state_checks(ks, *content, out);
  if (options.token) token_checks(ws, ks, current, out);
  return out;
}

}  // namespace hsm
