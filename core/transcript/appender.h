// Appending to DIR/transcript.jsonl. Each append takes an exclusive lock on the file, catches
// up with entries other processes appended since this one last looked, writes one line and
// fdatasyncs before returning, so a crash leaves at most one torn last line. Never rewrites
// or reorders existing entries: only `cut_torn_tail` removes a torn, unterminated last line,
// and an append removes an unsealed tail (unsigned entries no signed entry covers) before it
// writes, keeping a copy and recording the cut.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/tlog/tree_store.h"
#include "core/transcript/entry.h"

namespace hsm::transcript {

class FleetLog;

// Whoever signs entries: the transcript key in the token.
class Signer {
 public:
  virtual ~Signer() = default;
  // Raw r||s ECDSA-P256 signature over SHA-256(hash32).
  virtual Bytes sign(ByteView hash32) = 0;
  virtual const Bytes& public_key() const = 0;  // DER SPKI
};

// What the tail of the transcript says now.
struct TranscriptState {
  std::uint64_t entries = 0;   // next seq
  std::string head = kZeroHash;
  Bytes current_key;           // DER SPKI of the key that signs the next entry; empty if none
  std::string current_key_id;  // hex CKA_ID recorded with it (data.key_id), may be empty
  std::string current_key_kind;   // its data.kind: "provisional", "escrowed" (may be empty)
  std::string current_key_token;  // its data.token: the label of the token it was made on
  // Entries at the end with an empty sig (docs/design.md, "Deferred signatures"): this
  // process's own batch in progress, or an unsealed tail the next append cuts.
  std::uint64_t unsigned_tail = 0;
};

// A ceremony whose process ended without recording its end (killed, crashed, power lost).
struct UnclosedCeremony {
  std::string ceremony, what;  // its id, and what it was (data.what of its ceremony.begin)
  std::uint64_t begin_seq = 0;
};

// True for the events that close ceremony `id` when they appear in `e`: its own ceremony.end or
// ceremony.aborted, or a later ceremony's ceremony.unsigned-end, ceremony.unsigned-failure or
// ceremony.interrupted naming it in data.ceremony.
bool closes_ceremony(const Entry& e, const std::string& id);

// The keystore state the transcript recorded last (docs/design.md, "Keystore integrity").
struct StateRecord {
  std::uint64_t seq = 0;  // the entry that recorded it
  std::string root;       // hex root over every state row
};

// The keystore states recorded from some entry on: every root, and every state row named.
struct StatesSince {
  std::set<std::string> roots, rows;
};

// Whether appends keep DIR/tlog/ (the Merkle tree) up to date. Only a benchmark turns it off,
// to measure what the tree costs; the index is derived data, and the next Transcript that uses
// it catches up with the entries appended meanwhile.
enum class TreeUpkeep { on, off_for_benchmarks };

class Transcript {
 public:
  explicit Transcript(std::filesystem::path file, TreeUpkeep tree = TreeUpkeep::on);
  const std::filesystem::path& file() const noexcept { return file_; }

  // The state after everything appended so far (by anyone). Throws Error(integrity) if the
  // file ends in a torn line.
  TranscriptState state();

  // Appends an entry signed by `signer`. The signer must hold the current key, except for
  // transcript.open (first entry) and an unendorsed transcript.key, which the new key signs.
  Entry append(const std::string& event, const std::string& actor, const std::string& ceremony,
               const nlohmann::json& data, Signer& signer);

  // The ceremony that began last, if nothing after its ceremony.begin closes it. Reads from the
  // end of the file (the last line first; searching back only when that line closes nothing),
  // so a ceremony pays for this only after a crash. Needs no lock held by the caller.
  std::optional<UnclosedCeremony> unclosed_ceremony();

  // The last entry whose data records the keystore's state root (data.state.root), searched
  // from the end; its hash and signature are checked against the current transcript key
  // (Error(integrity) when they do not hold). nullopt when no entry records one.
  std::optional<StateRecord> latest_state();
  // The same, among the entries before `seq` (not checked against the current key: a key
  // change may lie between); and the roots and state rows the entries from `seq` on record,
  // read in one pass.
  std::optional<StateRecord> state_before(std::uint64_t seq);
  StatesSince states_since(std::uint64_t seq);
  // The digest the transcript recorded last for state row `row_key` (data.state.rows), with
  // the seq of that entry; "" for a row recorded as deleted. Searches back from the end: for
  // error messages and doctor, not for every use.
  std::optional<std::pair<std::uint64_t, std::string>> last_row_digest(const std::string& row_key);

  // Group commit (the signing service's batches): while deferred, append() writes each line
  // without waiting for the disk; sync() waits for every line written so far, and so does the
  // next append() after defer_sync(false). Nothing that depends on an entry (a signature
  // handed out, a keystore commit of what it records) may happen before its sync.
  void defer_sync(bool defer) noexcept { defer_sync_ = defer; }
  void sync();

  // Deferred signatures (the signing service's batches; docs/design.md, "Deferred
  // signatures"): while on, append() writes every entry but a key entry with an empty sig, all
  // of one ceremony; the next entry appended with it off, signed by the current key and of the
  // same ceremony, covers them through its prev link. Until then they count as this object's
  // own: its state checks trust them, and it refuses lines anyone else appends meanwhile.
  // Unsigned entries at the end of the file that are not this object's (a process killed
  // before it signed, or lines put there without the key) are an unsealed tail, never covered:
  // the next append keeps a copy in DIR/transcript.unsealed-SEQ-HASH.jsonl, cuts them (from
  // the tree index too) and records the cut in a signed transcript.unsealed-cut entry before
  // its own. A fleet's workspace signs every entry (its nodes' appends interleave): there this
  // does nothing.
  void defer_signatures(bool defer) noexcept { defer_sign_ = defer; }
  // The entries before the unsigned ones at the end: what a checkpoint may cover.
  std::uint64_t sealed_entries();

  // A workspace of a fleet (core/transcript/fleet_log.h): the database's table is the
  // transcript and the file its replica. Every append then first copies the entries other nodes
  // appended into the file (each checked: seq, chain, hash, signature), refuses a file that is
  // not a prefix of the database's transcript (exit 4, naming the seq), and commits its entry to
  // the database before writing it to the file; each entry's data names the node. Without it
  // (SQLite workspaces) nothing of this runs.
  void set_fleet(FleetLog* fleet) noexcept { fleet_ = fleet; }
  // Brings the file up to the database's transcript (a fleet workspace; nothing otherwise). A
  // database without entries is given the file's (a workspace that kept its transcript in the
  // file alone before it became a fleet's).
  void sync_with_fleet();

  // Removes a torn (unterminated) last line; returns its length, 0 if there was none.
  std::size_t cut_torn_tail();

  // The Merkle tree of every entry so far (DIR/tlog/), brought up to date under the exclusive
  // lock. Its hashes below size() never change, so it may be read after the lock is gone.
  tlog::TreeStore& tree();

 private:
  void catch_up(int fd);
  // Under the file's exclusive lock and the fleet's transaction: the file checked against the
  // database and the entries the file lacks appended to it (and to the tree).
  void pull_from_fleet(int fd);
  // The first seq below `common` where the file and the database's transcript differ (`common`
  // when they agree that far): for the message of a replica that is not a prefix.
  std::uint64_t first_difference(int fd, std::uint64_t common);
  void catch_up_from_tail(int fd, std::uint64_t size);
  void fold(const Entry& e);      // the next entry, in order
  // fold() of the entry whose line begins at `begin`, keeping track of the unsigned tail.
  void fold_at(const Entry& e, std::uint64_t begin);
  void take_key(const Entry& e);  // a signed transcript.open or .key entry sets the current key
  // Where the entries this object may trust end: before an unsealed tail that is not its own.
  std::uint64_t trusted_end() const noexcept;
  std::uint64_t sealed_end() const noexcept { return state_.unsigned_tail > 0 ? tail_begin_ : offset_; }
  // Under the exclusive lock: keeps a copy of the unsealed tail, cuts it from the tree index
  // and the file, catches up again, and returns what transcript.unsealed-cut records.
  nlohmann::json cut_unsealed_tail(int fd);
  std::filesystem::path file_;
  TreeUpkeep upkeep_;
  tlog::TreeStore& tree_store();
  std::uint64_t offset_ = 0;  // bytes of the file already folded into state_
  bool defer_sync_ = false;
  bool unsynced_ = false;  // lines written since the last fdatasync
  bool defer_sign_ = false;
  std::uint64_t tail_begin_ = 0;  // offset of the first unsigned entry at the end, if any
  std::map<std::uint64_t, std::string> own_unsigned_;  // seq -> hash, not yet covered
  std::string own_ceremony_;                             // the ceremony they belong to
  TranscriptState state_;
  std::unique_ptr<tlog::TreeStore> tree_;
  FleetLog* fleet_ = nullptr;
};

}  // namespace hsm::transcript
