// Joining a fleet's transcript, exporting a transcript, counting a fleet's nodes.
#include "ceremonies/transcript/fleet_ops.h"

#include <fmt/format.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ceremonies/recorder.h"
#include "ceremonies/transcript/checkpoint_ops.h"
#include "ceremonies/transcript/receipt_ops.h"
#include "core/dir_lock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/tlog/merkle.h"
#include "core/tlog/note.h"
#include "core/tlog/tiles.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/fleet_log.h"

namespace hsm {

namespace {

std::filesystem::path transcript_file(const Workspace& ws) {
  return ws.options().dir / "transcript.jsonl";
}

void require_new(const std::filesystem::path& p, const char* what) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(p, ec)))
    fail(Category::not_found, fmt::format("{} '{}' already exists; hsmctl never writes over a "
                                          "file: give a new path", what, p.string()));
}

// What opening the fleet's keystore writes into DIR before the join's checks have run: the
// store record, the replica of the fleet's transcript and its tree, the workspace lock (and DIR
// itself, given with --store). A join refused before it recorded anything takes back the ones
// this run made, so the directory is as it was; files that were there before are left alone.
// The names are noted with the workspace lock held, and it is held until the Workspace goes:
// what another hsmctl makes in DIR is never taken for this run's.
class JoinFootprint {
 public:
  // Makes DIR if it is missing and takes the workspace lock (Error(general) when another
  // hsmctl keeps it, Error(interrupted) on a signal meanwhile: then nothing is taken back).
  explicit JoinFootprint(Workspace& ws) : dir_(ws.options().dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(dir_, ec))) {
      fs::create_directories(dir_, ec);
      if (ec)
        fail(Category::general, fmt::format("cannot create the workspace directory '{}'",
                                            dir_.string()), ec.message());
      made_dir_ = true;
    }
    // The lock file is made when the lock is taken, so it is looked for first; removing it
    // while holding it is safe (DirLock). The lock is this footprint's own first (shared with
    // the Workspace's, core/dir_lock.h), so what the Workspace's fleet lock leaves when it
    // fails (the database down) is taken back under it too.
    if (!fs::exists(fs::symlink_status(dir_ / kLockFile, ec))) made_.emplace_back(kLockFile);
    lock_.emplace(dir_, ws.options().lock_wait, ws.options().on_lock_wait);
    try {
      ws.hold_lock();
    } catch (...) {
      take_back();
      throw;
    }
    for (const char* name : kNames)
      if (!fs::exists(fs::symlink_status(dir_ / name, ec))) made_.emplace_back(name);
  }
  // Called with the workspace lock still held; DIR goes only when this run made it and it is
  // empty again.
  void take_back() const noexcept {
    std::error_code ec;
    for (const std::string& name : made_) std::filesystem::remove_all(dir_ / name, ec);
    if (made_dir_) std::filesystem::remove(dir_, ec);
  }

 private:
  static constexpr const char* kLockFile = ".hsmctl.lock";
  static constexpr const char* kNames[] = {"keystore.url.tmp", "keystore.url", "tlog",
                                           "transcript.jsonl", "transcript.pending.jsonl"};
  std::filesystem::path dir_;
  bool made_dir_ = false;
  std::vector<std::string> made_;
  std::optional<DirLock> lock_;  // the Workspace holds the same lock, and longer
};

}  // namespace

JoinResult join_fleet(Workspace& ws) {
  if (!ws.is_fleet())
    fail(Category::usage, "transcript join needs a PostgreSQL store (--store, HSMCTL_STORE or "
                          "store = in hsmctl.toml): an SQLite workspace is a fleet of one");
  JoinResult out;
  // run_ceremony's steps, with the footprint taken back before a refusal is kept as pending
  // (a directory that is no workspace again gets no transcript.pending.jsonl).
  Recorder rec(ws);  // first: its InterruptScope covers the wait for the lock
  std::optional<JoinFootprint> footprint;
  try {
    footprint.emplace(ws);
    rec.begin("transcript.join", nlohmann::json::object());
    transcript::FleetLog* fleet = ws.fleet_log();
    out.node = fleet->node();
    const p11::TokenInfo& t = ws.token();
    out.seq = rec.record("fleet.join", {{"node", out.node}, {"token", t.label},
                                         {"token_serial", t.serial}});
    rec.end_ok();
  } catch (const Error& e) {
    // Refused before the token signed anything (the replica's check, another master): nothing
    // of this run is in the database, so nothing of it stays in DIR either.
    if (footprint && !rec.begun()) footprint->take_back();
    rec.end_failure(e);
    throw;
  }
  out.entries = transcript::Transcript(transcript_file(ws)).state().entries;
  return out;
}

void ExportOptions::validate() const {
  if (out.empty()) fail(Category::usage, "--out must name the file to write");
  require_new(out, "export file");
  if (tiles) require_new(*tiles, "tiles directory");
}

ExportResult export_transcript(Workspace& ws, const ExportOptions& options) {
  options.validate();
  ExportResult r;
  std::string content;
  const auto file = transcript_file(ws);
  if (transcript::FleetLog* fleet = ws.fleet_log()) {
    // The database's transcript is the fleet's; the replica was brought up to it on opening.
    r.from_database = true;
    for (std::uint64_t from = 0;;) {
      const auto lines = fleet->lines_from(from, 4096);
      if (lines.empty()) break;
      for (const std::string& line : lines) content += line + '\n';
      from += lines.size();
      r.entries = from;
    }
  } else {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    if (in) s << in.rdbuf();
    content = s.str();
    if (!content.empty() && content.back() != '\n')
      fail(Category::integrity, fmt::format("transcript '{}' ends in a torn line; check it with "
                                            "'hsmctl transcript verify' and cut it with --repair",
                                            file.string()));
    for (char c : content) r.entries += c == '\n' ? 1 : 0;
  }
  if (r.entries == 0)
    fail(Category::not_found, fmt::format("workspace '{}' has no transcript yet: nothing to "
                                          "export", ws.options().dir.string()));
  const std::size_t last = content.rfind('\n', content.size() - 2);
  const std::string_view last_line =
      std::string_view(content).substr(last == std::string::npos ? 0 : last + 1);
  r.head = transcript::entry_from_json(
               transcript::parse_canonical_line(last_line.substr(0, last_line.size() - 1)))
               .hash;
  write_new_file(options.out, as_bytes(content), 0644);
  if (options.tiles) {
    const auto note = load_checkpoint(file);
    if (!note)
      fail(Category::not_found, fmt::format("wrote {}, but the log has no checkpoint yet for "
                                            "tiles; make one with 'hsmctl transcript checkpoint'",
                                            options.out.string()));
    publish_checkpoint_tiles(file, *note, *options.tiles);
    r.tiles_size = tlog::parse_checkpoint(note->text).size;
  }
  return r;
}

std::map<std::string, std::uint64_t> fleet_nodes(Workspace& ws) {
  transcript::FleetLog* fleet = ws.fleet_log();
  return fleet == nullptr ? std::map<std::string, std::uint64_t>{} : fleet->entries_per_node();
}

}  // namespace hsm
