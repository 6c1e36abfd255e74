// The fleet's part of the appender (docs/design.md, "The fleet"): bringing the file, a replica,
// up to the database's transcript, each copied entry checked as `transcript verify` checks it,
// and naming the first entry where a replica is not a prefix of the database's.
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/fleet_log.h"
#include "core/transcript/line_check.h"
#include "core/transcript/transcript_file.h"

namespace hsm::transcript {

void Transcript::sync_with_fleet() {
  if (fleet_ == nullptr) return;
  // Nothing to copy and no file yet: no empty transcript.jsonl is made (verify refuses one).
  if (!std::filesystem::exists(file_) && fleet_->size() == 0) return;
  LockedFile f(file_, LOCK_EX);
  catch_up(f.fd());
  // An unsealed tail (a batch of the workspace's days before the fleet, killed before its
  // seal, or lines added by hand) is no part of the fleet's transcript: the next append cuts
  // it, records the cut and then catches up; until then the replica stays as it is.
  if (state_.unsigned_tail > 0) return;
  if (upkeep_ == TreeUpkeep::on) {
    tree_store().catch_up(f.fd(), offset_);
    if (tree_->size() != state_.entries)
      fail(Category::integrity,
           fmt::format("transcript '{}' holds {} entries, but its last entry is number {}: lines "
                       "were added, removed or reordered by hand; check it with 'hsmctl "
                       "transcript verify'", file_.string(), tree_->size(), state_.entries - 1));
  }
  FleetLog::Txn txn(*fleet_);
  pull_from_fleet(f.fd());
  txn.commit();
}

std::uint64_t Transcript::first_difference(int fd, std::uint64_t common) {
  const std::string all = read_at(fd, 0, offset_);
  std::size_t pos = 0;
  for (std::uint64_t from = 0; from < common;) {
    const std::vector<std::string> theirs = fleet_->lines_from(from, std::min<std::uint64_t>(2048, common - from));
    if (theirs.empty()) return from;
    for (const std::string& line : theirs) {
      const std::size_t nl = all.find('\n', pos);
      if (nl == std::string::npos || std::string_view(all).substr(pos, nl - pos) != line) return from;
      pos = nl + 1;
      ++from;
    }
  }
  return common;
}

void Transcript::pull_from_fleet(int fd) {
  const std::uint64_t local = state_.entries;
  const std::uint64_t remote = fleet_->size();
  if (remote == 0) {
    // The database has no transcript yet: this workspace's file becomes the fleet's.
    if (local == 0) return;
    if (state_.unsigned_tail > 0)
      fail(Category::integrity, fmt::format("transcript '{}' ends in unsigned entries no signed "
                                            "entry covers; the next ceremony cuts them", file_.string()));
    const std::string all = read_at(fd, 0, offset_);
    std::uint64_t seq = 0;
    for (std::size_t pos = 0; pos < all.size(); ++seq) {
      const std::size_t nl = all.find('\n', pos);
      const std::string_view line = std::string_view(all).substr(pos, nl - pos);
      pos = nl + 1;
      const Entry e = entry_from_json(parse_canonical_line(line));
      if (e.seq != seq)
        fail(Category::integrity, fmt::format("transcript seq {} found where {} was expected; "
                                              "run 'hsmctl transcript verify'", e.seq, seq));
      const std::string node = e.data.is_object() && e.data.contains("node") &&
                                       e.data["node"].is_string()
                                   ? e.data["node"].get<std::string>()
                                   : fleet_->node();
      fleet_->insert(seq, line, node);
    }
    return;
  }
  // The replica must be a prefix of the database's transcript. Its last line is compared at
  // every append; only when that differs is the whole file read, to name the first entry that
  // does.
  const auto refuse = [&] {
    const std::uint64_t seq = first_difference(fd, std::min(local, remote));
    fail(Category::integrity,
         fmt::format("transcript '{}' is not a prefix of the fleet's transcript on {}: its entry "
                     "{} {}; this replica was edited or belongs to another transcript (move it "
                     "away and the next ceremony copies the fleet's); run 'hsmctl doctor'",
                     file_.string(), fleet_->server(), seq,
                     seq < remote ? "differs from the database's" : "is not in the database"));
  };
  if (local > remote) refuse();
  if (local > 0) {
    const auto theirs = fleet_->line(local - 1);
    if (!theirs || *theirs != line_around(fd, offset_, offset_ - 2)) refuse();
  }
  // The entries other nodes appended, each checked as 'transcript verify' would before it is
  // written: its place, its link to the head, its hash and its signature. Unsigned entries
  // (a service batch's, from the workspace's days before the fleet) wait for the signed entry
  // of their ceremony that covers them, and are written with it.
  constexpr std::uint64_t kChunk = 2048;
  std::uint64_t next_seq = state_.entries;
  std::string head = state_.head;
  std::vector<std::pair<Entry, std::string>> waiting;  // unsigned, not yet covered
  for (std::uint64_t from = local; from < remote;) {
    const std::vector<std::string> lines = fleet_->lines_from(from, kChunk);
    if (lines.empty()) break;
    std::string buffer;
    std::vector<std::size_t> lengths;
    const auto flush = [&] {
      if (buffer.empty()) return;
      write_all(fd, buffer, file_);
      if (::fdatasync(fd) != 0)
        fail(Category::general, "cannot sync the transcript to disk", std::strerror(errno));
      std::size_t at = 0;
      for (const std::size_t n : lengths) {
        offset_ += n + 1;
        if (upkeep_ == TreeUpkeep::on && tree_)
          tree_->append(std::string_view(buffer).substr(at, n), offset_);
        at += n + 1;
      }
      buffer.clear();
      lengths.clear();
    };
    try {
      for (const std::string& line : lines) {
        Entry e = entry_from_json(parse_canonical_line(line));
        const std::string where =
            fmt::format("entry {} of the fleet's transcript on {}", next_seq, fleet_->server());
        if (e.seq != next_seq || e.prev != head || body_hash(e) != e.hash)
          fail(Category::integrity, where + " does not chain onto the entry before it (its seq, "
                                            "prev or hash is wrong): the database was edited; "
                                            "run 'hsmctl doctor'");
        ++next_seq;
        head = e.hash;
        const bool key_event = is_key_event(e.event);
        if (!waiting.empty() && (key_event || e.ceremony != waiting.front().first.ceremony))
          fail(Category::integrity, where + " follows unsigned entries of another ceremony, or is "
                                            "a key change after them: the database was edited; "
                                            "run 'hsmctl doctor'");
        if (e.sig.empty() && !key_event && e.seq > 0) {
          waiting.emplace_back(std::move(e), line);
          continue;
        }
        const bool self_signed =
            e.event == "transcript.open" ||
            (e.event == "transcript.key" && e.data.is_object() &&
             e.data.value("endorsed", true) == false);
        const Bytes key = self_signed && e.data.is_object()
                              ? from_base64(e.data.value("public_key", ""))
                              : state_.current_key;
        if (key.empty() || !crypto::verify_ecdsa_sha256(crypto::load_spki(key).get(),
                                                        from_hex(e.hash), from_base64(e.sig)))
          fail(Category::integrity, where + " is not signed by the transcript key: the database "
                                            "was edited; run 'hsmctl doctor'");
        for (const auto& [covered, covered_line] : waiting) {
          fold(covered);
          buffer += covered_line;
          buffer += '\n';
          lengths.push_back(covered_line.size());
        }
        waiting.clear();
        fold(e);
        buffer += line;
        buffer += '\n';
        lengths.push_back(line.size());
      }
    } catch (...) {
      flush();  // what was checked is kept
      throw;
    }
    flush();
    from += lines.size();
  }
  if (!waiting.empty())
    fail(Category::integrity,
         fmt::format("the fleet's transcript on {} ends in {} unsigned entries that no signed "
                     "entry covers (from seq {}): the database was edited; run 'hsmctl doctor'",
                     fleet_->server(), waiting.size(), waiting.front().first.seq));
}

}  // namespace hsm::transcript
