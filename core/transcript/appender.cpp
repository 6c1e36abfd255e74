// Locked, synced appends with incremental catch-up (the first from the end of the file).
#include "core/transcript/appender.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/test_hooks.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/fleet_log.h"
#include "core/transcript/line_check.h"
#include "core/transcript/transcript_file.h"

namespace hsm::transcript {

namespace {

// The offset of the last occurrence of any of `needles` that starts before `before`,
// searching back in blocks (each block read once for all of them); nullopt when there is none.
std::optional<std::uint64_t> rfind_in_file(int fd, std::uint64_t size, std::uint64_t before,
                                           std::initializer_list<std::string_view> needles,
                                           std::uint64_t floor = 0) {
  std::size_t longest = 0;
  for (std::string_view n : needles) longest = std::max(longest, n.size());
  std::uint64_t hi = before;
  // What is looked for is usually in the last lines: the first block is small, and each next
  // one four times larger, up to 1 MiB.
  std::uint64_t step = 8 * 1024;
  while (hi > floor) {
    const std::uint64_t lo = hi > floor + step ? hi - step : floor;
    step = std::min<std::uint64_t>(step * 4, 16 * kTailBlock);
    // The block reaches past `hi` by a needle's length, so a match across two blocks counts.
    const std::uint64_t read_end = std::min(size, hi + longest);
    const std::string block = read_at(fd, lo, read_end - lo);
    std::optional<std::uint64_t> found;
    // glibc's memmem, forward to the last match, is an order of magnitude faster than
    // std::string::rfind (a memcmp call at every position): a command that must look back far
    // (to the last key entry, over a batch's large entries) reads megabytes here.
    const std::size_t limit = static_cast<std::size_t>(hi - lo);  // a match must start below hi
    for (std::string_view needle : needles) {
      const char* p = block.data();
      const char* const end = block.data() + block.size();
      std::optional<std::size_t> last;
      while (p < end) {
        const void* m = ::memmem(p, static_cast<std::size_t>(end - p), needle.data(), needle.size());
        if (m == nullptr) break;
        const auto at = static_cast<std::size_t>(static_cast<const char*>(m) - block.data());
        if (at >= limit) break;  // starts in the next block: seen already
        last = at;
        p = static_cast<const char*>(m) + 1;
      }
      if (last) found = std::max(found.value_or(0), lo + *last);
    }
    if (found) return found;
    hi = lo;
  }
  return std::nullopt;
}

}  // namespace

Transcript::Transcript(std::filesystem::path file, TreeUpkeep tree)
    : file_(std::move(file)), upkeep_(tree) {}

bool closes_ceremony(const Entry& e, const std::string& id) {
  if (e.event == "ceremony.end" || e.event == "ceremony.aborted") return e.ceremony == id;
  if (e.event == "ceremony.unsigned-end" || e.event == "ceremony.unsigned-failure" ||
      e.event == "ceremony.interrupted")
    return e.data.is_object() && e.data.value("ceremony", "") == id;
  return false;
}

std::optional<UnclosedCeremony> Transcript::unclosed_ceremony() {
  if (!std::filesystem::exists(file_)) return std::nullopt;
  LockedFile f(file_, LOCK_SH);
  struct stat st {};
  if (::fstat(f.fd(), &st) != 0 || st.st_size < 2) return std::nullopt;
  char tail[2] = {0, 0};
  if (::pread(f.fd(), tail, 2, static_cast<off_t>(st.st_size - 2)) != 2 || tail[1] != '\n' ||
      tail[0] == '\n')
    return std::nullopt;  // torn or malformed: state() says so
  // An unsealed tail says nothing (a line there may claim to end any ceremony).
  catch_up(f.fd());
  const std::uint64_t size = trusted_end();
  if (size < 2) return std::nullopt;
  auto entry_at = [&](std::uint64_t at) {
    return entry_from_json(parse_canonical_line(line_around(f.fd(), size, at)));
  };
  const Entry last = entry_at(size - 2);
  if (closes_ceremony(last, last.ceremony)) return std::nullopt;  // the usual case
  const auto begin_at = rfind_in_file(f.fd(), size, size, {"\"event\":\"ceremony.begin\""});
  if (!begin_at) return std::nullopt;
  const Entry begin = entry_at(*begin_at);
  if (begin.event != "ceremony.begin") return std::nullopt;  // a data member, not the event
  for (std::uint64_t before = size;;) {
    const auto at = rfind_in_file(
        f.fd(), size, before,
        {"\"event\":\"ceremony.end\"", "\"event\":\"ceremony.aborted\"",
         "\"event\":\"ceremony.interrupted\"", "\"event\":\"ceremony.unsigned-end\"",
         "\"event\":\"ceremony.unsigned-failure\""});
    if (!at || *at < *begin_at) break;
    if (closes_ceremony(entry_at(*at), begin.ceremony)) return std::nullopt;
    before = *at;
  }
  return UnclosedCeremony{begin.ceremony,
                          begin.data.is_object() ? begin.data.value("what", "") : "", begin.seq};
}

void Transcript::fold_at(const Entry& e, std::uint64_t begin) {
  const bool was_unsigned_tail = state_.unsigned_tail > 0;
  fold(e);
  if (e.sig.empty()) {
    if (!was_unsigned_tail) tail_begin_ = begin;
    ++state_.unsigned_tail;
  } else {
    state_.unsigned_tail = 0;
  }
}

std::uint64_t Transcript::trusted_end() const noexcept {
  return own_unsigned_.empty() ? sealed_end() : offset_;
}

void Transcript::fold(const Entry& e) {
  if (e.seq != state_.entries)
    fail(Category::integrity, fmt::format("transcript seq {} found where {} was expected; run "
                                          "'hsmctl transcript verify'", e.seq, state_.entries));
  take_key(e);
  state_.head = e.hash;
  ++state_.entries;
}

void Transcript::take_key(const Entry& e) {
  if (e.event != "transcript.open" && e.event != "transcript.key") return;
  if (e.sig.empty()) return;  // an unsigned key entry is no key entry (it is cut)
  try {
    state_.current_key = from_base64(e.data.value("public_key", ""));
    state_.current_key_id = e.data.value("key_id", "");
    state_.current_key_kind = e.data.value("kind", "");
    state_.current_key_token = e.data.value("token", "");
  } catch (const nlohmann::json::exception&) {
    fail(Category::integrity, fmt::format("transcript seq {} has a malformed key entry; run "
                                          "'hsmctl transcript verify'", e.seq));
  }
}

namespace {

// The entry whose signature vouches for `e` (whose line ends at `end`): `e` itself when it is
// signed; when not, the signed entry of its ceremony after the unsigned ones that follow it,
// each linked to the one before by prev and holding its own body's hash. nullopt when there
// is none before `limit` (a file offset at a line's end) or a link does not hold.
std::optional<Entry> covering_entry(int fd, std::uint64_t limit, const Entry& e,
                                    std::uint64_t end) {
  if (!e.sig.empty()) return e;
  std::string last_hash = e.hash;
  for (std::uint64_t pos = end; pos < limit;) {
    const std::string line = line_around(fd, limit, pos);
    Entry next = entry_from_json(parse_canonical_line(line));
    if (next.prev != last_hash || next.ceremony != e.ceremony || body_hash(next) != next.hash ||
        is_key_event(next.event))
      return std::nullopt;
    if (!next.sig.empty()) return next;
    last_hash = next.hash;
    pos += line.size() + 1;
  }
  return std::nullopt;
}

// Where the run of unsigned entries that ends the file (of `size` bytes, whole lines) begins,
// and how many entries it holds ({size, 0} when the last entry is signed). Reads back in blocks
// that grow as rfind_in_file's do, each byte once, so that a long run (lines put there by
// hand) costs what it weighs.
std::pair<std::uint64_t, std::uint64_t> unsigned_run(int fd, std::uint64_t size) {
  std::uint64_t begin = size, count = 0;  // `begin`: the start of the run found so far
  std::uint64_t step = 8 * 1024;
  std::string carry;  // the bytes from the block's start up to `begin`, not yet a whole line
  for (std::uint64_t hi = size; begin > 0;) {
    const std::uint64_t lo = hi > step ? hi - step : 0;
    step = std::min<std::uint64_t>(step * 4, 16 * kTailBlock);
    const std::string block = read_at(fd, lo, hi - lo) + carry;  // [lo, begin)
    // Whole lines end at block.size() (that is, at `begin`); the one before starts after the
    // previous newline, or at the block's start when the block begins the file.
    std::size_t end = block.size();
    for (;;) {
      if (end < 2) break;
      const std::size_t nl = block.rfind('\n', end - 2);
      if (nl == std::string::npos && lo > 0) break;  // the line starts in an earlier block
      const std::size_t start = nl == std::string::npos ? 0 : nl + 1;
      const Entry e =
          entry_from_json(parse_canonical_line(std::string_view(block).substr(start, end - 1 - start)));
      if (!e.sig.empty()) return {begin, count};
      ++count;
      begin = lo + start;
      end = start;
    }
    carry = block.substr(0, end);
    hi = lo;
    if (lo == 0) break;
  }
  return {begin, count};
}

// What latest_state found last in this process, per file: a command asks more than once (the
// workspace when it opens the keystore, each use of a row), and a service for every request.
// Only the bytes appended since are searched again, and a record is checked once.
struct StateMemo {
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t size = 0;
  Bytes key;  // the transcript key it was checked against
  std::optional<StateRecord> record;
};
std::mutex g_state_memo_mutex;

// The key entry catch_up_from_tail found last in this process, per file (its key fields are
// kept in a TranscriptState).
struct KeyMemo {
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t size = 0;
  TranscriptState key;
};
std::mutex g_key_memo_mutex;
std::map<std::string, KeyMemo> g_key_memo;
std::map<std::string, StateMemo> g_state_memo;

}  // namespace

void Transcript::catch_up_from_tail(int fd, std::uint64_t size) {
  // The first look at a file: its state is its last line and its last key entry, found from
  // the end, so that a command's cost does not grow with the transcript's history (a batch
  // of a million users writes about 100 MB). Checking every line and every link is what
  // 'transcript verify' does; here a line is parsed (and checked canonical) only if it is the
  // last one or, searching back, one that names a key event.
  const Entry last = entry_from_json(parse_canonical_line(line_around(fd, size, size - 2)));
  state_.entries = last.seq + 1;
  state_.head = last.hash;
  take_key(last);
  // Unsigned entries at the end: where their run begins (the key search starts before it, and
  // the memo of the key entry found reaches no further: a cut may replace the run).
  const auto [begin, count] = unsigned_run(fd, size);
  tail_begin_ = begin;
  state_.unsigned_tail = count;
  const std::uint64_t sealed = begin;  // `size` when the last entry is signed
  // Canonical JSON escapes every quote inside a string, so these bytes only occur as a
  // member name and its value; a line counts only if its own (top-level) event is a key event.
  // Another Transcript of this process may have found the key entry already (a command opens
  // the file more than once): then only what was appended since is searched.
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Category::general, "cannot stat the transcript");
  std::uint64_t floor = 0;
  std::uint64_t before = sealed;
  std::optional<KeyMemo> memo;
  {
    std::lock_guard lock(g_key_memo_mutex);
    const auto m = g_key_memo.find(file_.string());
    if (m != g_key_memo.end() && m->second.dev == st.st_dev && m->second.ino == st.st_ino &&
        m->second.size <= before) {
      memo = m->second;
      floor = memo->size;
    }
  }
  while (state_.current_key.empty()) {
    const auto at = rfind_in_file(fd, size, before, {"\"event\":\"transcript.key\"",
                                                      "\"event\":\"transcript.open\""}, floor);
    if (!at && memo) {
      state_.current_key = memo->key.current_key;
      state_.current_key_id = memo->key.current_key_id;
      state_.current_key_kind = memo->key.current_key_kind;
      state_.current_key_token = memo->key.current_key_token;
      break;
    }
    if (!at)
      fail(Category::integrity, fmt::format("transcript '{}' has no transcript.open entry; run "
                                            "'hsmctl transcript verify'", file_.string()));
    take_key(entry_from_json(parse_canonical_line(line_around(fd, size, *at))));
    before = *at;
  }
  std::lock_guard lock(g_key_memo_mutex);
  g_key_memo[file_.string()] = KeyMemo{st.st_dev, st.st_ino, sealed, state_};
}

void Transcript::catch_up(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Category::general, "cannot stat the transcript");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < offset_)
    fail(Category::integrity, fmt::format("transcript '{}' shrank while in use", file_.string()));
  if (size == offset_) return;
  char last = 0;
  if (::pread(fd, &last, 1, static_cast<off_t>(size - 1)) != 1 || last != '\n')
    fail(Category::integrity,
         fmt::format("transcript '{}' ends in a torn line (an interrupted write); check it with "
                     "'hsmctl transcript verify' and cut it with --repair", file_.string()));
  char before_last = '\n';
  if (size < 2 || ::pread(fd, &before_last, 1, static_cast<off_t>(size - 2)) != 1 ||
      before_last == '\n')
    fail(Category::integrity, fmt::format("transcript '{}' ends in an empty line; run 'hsmctl "
                                          "transcript verify'", file_.string()));
  if (!own_unsigned_.empty())
    fail(Category::integrity,
         fmt::format("lines were appended to transcript '{}' while this process held unsigned "
                     "entries of its own there (only the workspace's holder appends); check it "
                     "with 'hsmctl transcript verify'", file_.string()));
  if (offset_ == 0) {
    catch_up_from_tail(fd, size);
  } else {  // lines others added since: each in order
    const std::string chunk = read_at(fd, offset_, size - offset_);
    for (std::size_t pos = 0; pos < chunk.size();) {
      const std::size_t nl = chunk.find('\n', pos);
      fold_at(entry_from_json(parse_canonical_line(std::string_view(chunk).substr(pos, nl - pos))),
              offset_ + pos);
      pos = nl + 1;
    }
  }
  offset_ = size;
}


std::optional<StateRecord> Transcript::latest_state() {
  if (!std::filesystem::exists(file_)) return std::nullopt;
  LockedFile f(file_, LOCK_SH);
  catch_up(f.fd());
  const std::uint64_t size = offset_;
  // This object's own unsigned entries count; an unsealed tail of anyone else's does not. The
  // memo covers signed ground only: a cut may replace what lies beyond it.
  const std::uint64_t trusted = trusted_end(), sealed = sealed_end();
  struct stat st {};
  if (::fstat(f.fd(), &st) != 0) fail(Category::general, "cannot stat the transcript");
  std::uint64_t floor = 0;
  std::optional<StateRecord> memo;
  {
    std::lock_guard lock(g_state_memo_mutex);
    const auto m = g_state_memo.find(file_.string());
    if (m != g_state_memo.end() && m->second.dev == st.st_dev && m->second.ino == st.st_ino &&
        m->second.size <= sealed && m->second.key == state_.current_key) {
      floor = m->second.size;
      memo = m->second.record;
    }
  }
  const auto remember = [&](const std::optional<StateRecord>& r) {
    std::lock_guard lock(g_state_memo_mutex);
    g_state_memo[file_.string()] = StateMemo{st.st_dev, st.st_ino, sealed, state_.current_key, r};
    return r;
  };
  // Canonical JSON escapes every quote inside a string: these bytes are a member name, and
  // data.state is the only "state" object whose first member is "root".
  const auto at = rfind_in_file(f.fd(), size, trusted, {"\"state\":{\"root\":\""}, floor);
  if (!at) return remember(floor > 0 ? memo : std::nullopt);
  std::uint64_t begin = 0;
  const std::string line = line_around(f.fd(), size, *at, &begin);
  const Entry e = entry_from_json(parse_canonical_line(line));
  const auto state = e.data.is_object() ? e.data.find("state") : e.data.end();
  if (state == e.data.end() || !state->is_object() || !state->contains("root") ||
      !(*state)["root"].is_string())
    fail(Category::integrity, fmt::format("transcript entry {} names a state root it does not "
                                          "hold; run 'hsmctl transcript verify'", e.seq));
  const StateRecord found{e.seq, (*state)["root"].get<std::string>()};
  if (begin >= sealed) {  // this object's own, not yet covered
    const auto own = own_unsigned_.find(e.seq);
    if (own == own_unsigned_.end() || own->second != e.hash || body_hash(e) != e.hash)
      fail(Category::integrity, fmt::format("transcript entry {} is not the entry this process "
                                            "wrote there; run 'hsmctl transcript verify'", e.seq));
    return found;
  }
  // Signed by the key in force at that entry (the current one, or, when a key change came
  // after it as in master init, the one the last key entry before it names); or, written
  // unsigned, covered by the signed entry after the unsigned ones that follow it.
  const std::optional<Entry> voucher = covering_entry(f.fd(), sealed, e, begin + line.size() + 1);
  auto signed_by = [&](const Bytes& spki) {
    return voucher && !spki.empty() &&
           crypto::verify_ecdsa_sha256(crypto::load_spki(spki).get(), from_hex(voucher->hash),
                                       from_base64(voucher->sig));
  };
  bool good = body_hash(e) == e.hash && signed_by(state_.current_key);
  if (!good && body_hash(e) == e.hash) {
    const auto key_at = rfind_in_file(f.fd(), size, *at, {"\"event\":\"transcript.key\"",
                                                          "\"event\":\"transcript.open\""});
    if (key_at) {
      const Entry k = entry_from_json(parse_canonical_line(line_around(f.fd(), size, *key_at)));
      if ((k.event == "transcript.key" || k.event == "transcript.open") && k.seq < e.seq)
        good = signed_by(from_base64(k.data.value("public_key", "")));
    }
  }
  if (!good)
    fail(Category::integrity, fmt::format("transcript entry {}, which records the keystore's "
                                          "state, does not verify under the transcript key; run "
                                          "'hsmctl transcript verify'", e.seq));
  return remember(found);
}

std::optional<StateRecord> Transcript::state_before(std::uint64_t seq) {
  tlog::TreeStore& t = tree();
  if (seq == 0 || seq > t.size()) return std::nullopt;
  const std::uint64_t before = std::min(t.entry_range(seq - 1).second, trusted_end());
  LockedFile f(file_, LOCK_SH);
  const auto at = rfind_in_file(f.fd(), offset_, before, {"\"state\":{\"root\":\""});
  if (!at) return std::nullopt;
  const Entry e = entry_from_json(parse_canonical_line(line_around(f.fd(), offset_, *at)));
  const auto state = e.data.is_object() ? e.data.find("state") : e.data.end();
  if (state == e.data.end() || !state->is_object() || !state->contains("root") ||
      !(*state)["root"].is_string())
    return std::nullopt;
  return StateRecord{e.seq, (*state)["root"].get<std::string>()};
}

StatesSince Transcript::states_since(std::uint64_t seq) {
  tlog::TreeStore& t = tree();
  StatesSince out;
  if (seq >= t.size()) return out;
  LockedFile f(file_, LOCK_SH);
  // The states the entries from `seq` recorded, up to an unsealed tail of anyone else's.
  const std::uint64_t from = t.entry_range(seq).first, to = trusted_end();
  if (from >= to) return out;
  const std::string chunk = read_at(f.fd(), from, to - from);
  for (std::size_t pos = 0; pos < chunk.size();) {
    const std::size_t nl = chunk.find('\n', pos);
    const std::string_view line = std::string_view(chunk).substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find("\"state\":{\"root\":\"") == std::string_view::npos) continue;
    const Entry e = entry_from_json(parse_canonical_line(line));
    if (!e.data.is_object() || !e.data.contains("state") || !e.data["state"].is_object()) continue;
    const nlohmann::json& state = e.data["state"];
    if (const auto root = state.find("root"); root != state.end() && root->is_string())
      out.roots.insert(root->get<std::string>());
    if (const auto rows = state.find("rows"); rows != state.end() && rows->is_object())
      for (const auto& [key, digest] : rows->items()) out.rows.insert(key);
  }
  return out;
}

std::optional<std::pair<std::uint64_t, std::string>> Transcript::last_row_digest(
    const std::string& row_key) {
  if (!std::filesystem::exists(file_)) return std::nullopt;
  LockedFile f(file_, LOCK_SH);
  catch_up(f.fd());
  const std::uint64_t size = offset_;
  const std::string needle = nlohmann::json(row_key).dump() + ":";
  for (std::uint64_t before = trusted_end();;) {
    const auto at = rfind_in_file(f.fd(), size, before, {needle});
    if (!at) return std::nullopt;
    const Entry e = entry_from_json(parse_canonical_line(line_around(f.fd(), size, *at)));
    if (e.data.is_object() && e.data.contains("state") && e.data["state"].is_object() &&
        e.data["state"].contains("rows") && e.data["state"]["rows"].is_object() &&
        e.data["state"]["rows"].contains(row_key) &&
        e.data["state"]["rows"][row_key].is_string())
      return std::make_pair(e.seq, e.data["state"]["rows"][row_key].get<std::string>());
    before = *at;
  }
}

TranscriptState Transcript::state() {
  if (!std::filesystem::exists(file_)) return state_;
  LockedFile f(file_, LOCK_SH);
  catch_up(f.fd());
  return state_;
}

tlog::TreeStore& Transcript::tree_store() {
  if (!tree_) tree_ = std::make_unique<tlog::TreeStore>(file_);
  return *tree_;
}

tlog::TreeStore& Transcript::tree() {
  LockedFile f(file_, LOCK_EX);
  catch_up(f.fd());
  tree_store().catch_up(f.fd(), offset_);
  return *tree_;
}

Entry Transcript::append(const std::string& event, const std::string& actor,
                         const std::string& ceremony, const nlohmann::json& data, Signer& signer) {
  LockedFile f(file_, LOCK_EX);
  catch_up(f.fd());
  // Unsigned entries at the end that are not this object's own: never covered, cut first.
  nlohmann::json cut;
  if (state_.unsigned_tail > 0 && own_unsigned_.empty()) cut = cut_unsealed_tail(f.fd());
  const bool keep_tree = upkeep_ == TreeUpkeep::on;
  if (keep_tree) tree_store().catch_up(f.fd(), offset_);
  // The tree indexes every line; the last line says how many came before it. They differ when
  // lines were put at the end by hand (an older entry that records an older keystore state,
  // say) or taken out: nothing is added to such a log.
  if (keep_tree && tree_->size() != state_.entries)
    fail(Category::integrity,
         fmt::format("transcript '{}' holds {} entries, but its last entry is number {}: lines "
                     "were added, removed or reordered by hand; check it with 'hsmctl transcript "
                     "verify'", file_.string(), tree_->size(), state_.entries - 1));
  // A fleet's workspace: the database's transcript is the authority; the file catches up with
  // it under its lock, and the entry is committed there before it is written here.
  std::optional<FleetLog::Txn> fleet_txn;
  if (fleet_ != nullptr) {
    fleet_txn.emplace(*fleet_);
    pull_from_fleet(f.fd());
  }
  const auto with_node = [&](const nlohmann::json& body) {
    if (fleet_ == nullptr || !body.is_object() || body.contains("node")) return body;
    nlohmann::json out = body;
    out["node"] = fleet_->node();
    return out;
  };
  const bool self_signed = event == "transcript.open" ||
                           (event == "transcript.key" && data.value("endorsed", true) == false);
  if (event == "transcript.open" && state_.entries != 0)
    fail(Category::general, "transcript already open");
  if (!self_signed && signer.public_key() != state_.current_key)
    fail(Category::general, "internal: entry signed by a key that is not the transcript's current key");
  const bool sign = !defer_sign_ || fleet_ != nullptr || is_key_event(event);
  if (!own_unsigned_.empty() && ceremony != own_ceremony_)
    fail(Category::general, "internal: an entry of another ceremony after unsigned entries");
  // The lines to write: the cut's record (after the entry when the entry brings the key that
  // signs it), and the entry.
  std::vector<std::pair<Entry, std::string>> lines;
  std::uint64_t seq = state_.entries;
  std::string prev = state_.head;
  const auto add = [&](const std::string& ev, const nlohmann::json& body, bool signed_now) {
    Entry e;
    e.seq = seq++;
    e.time = utc_now_rfc3339();
    e.ceremony = ceremony;
    e.event = ev;
    e.actor = actor;
    e.data = with_node(body);
    e.prev = prev;
    const std::string data_json = canonical_json(e.data);
    e.hash = body_hash(e, data_json);
    if (signed_now) e.sig = to_base64(signer.sign(from_hex(e.hash)));
    std::string line = to_line(e, data_json) + "\n";
    if (line.size() - 1 > tlog::kMaxEntryBytes)
      fail(Category::general, fmt::format("internal: a {} entry of {} bytes is longer than the "
                                          "{} bytes a log entry can hold", ev, line.size() - 1,
                                          tlog::kMaxEntryBytes));
    prev = e.hash;
    lines.emplace_back(std::move(e), std::move(line));
  };
  if (!cut.is_null() && !self_signed) add("transcript.unsealed-cut", cut, true);
  add(event, data, sign);
  const std::size_t entry_index = lines.size() - 1;
  if (!cut.is_null() && self_signed) add("transcript.unsealed-cut", cut, true);
  std::string all;
  for (const auto& [e, line] : lines) all += line;
  if (fleet_txn) {
    for (const auto& [e, line] : lines)
      fleet_->insert(e.seq, std::string_view(line).substr(0, line.size() - 1), fleet_->node());
    fleet_txn->commit();  // a crash before the lines below are written is repaired by catch-up
  }
  test_hook("transcript.before-write");
  write_all(f.fd(), all, file_);
  if (defer_sync_) {
    unsynced_ = true;
  } else {
    if (::fdatasync(f.fd()) != 0)
      fail(Category::general, "cannot sync the transcript to disk", std::strerror(errno));
    unsynced_ = false;
  }
  test_hook("transcript.after-write");
  // Under the exclusive lock and caught up just before, the lines written are all that is new:
  // no need to read them back.
  for (const auto& [e, line] : lines) {
    fold_at(e, offset_);
    offset_ += line.size();
    if (keep_tree) tree_->append(std::string_view(line).substr(0, line.size() - 1), offset_);
  }
  const Entry& e = lines[entry_index].first;
  if (sign) {
    own_unsigned_.clear();  // covered by this entry's signature
  } else {
    own_unsigned_.emplace(e.seq, e.hash);
    own_ceremony_ = ceremony;
  }
  return e;
}

nlohmann::json Transcript::cut_unsealed_tail(int fd) {
  const std::uint64_t begin = tail_begin_, end = offset_;
  const std::string tail = read_at(fd, begin, end - begin);
  // Only a tail that continues the log (each entry's seq and prev following on from the signed
  // entry before it, its hash its own) is cut; anything else was put there by hand in another
  // shape, and is for 'transcript verify' to name, not for an append to tidy away.
  std::uint64_t from_seq = 0;
  std::string prev = kZeroHash, first_hash;
  if (begin > 1) {
    const Entry before = entry_from_json(parse_canonical_line(line_around(fd, end, begin - 2)));
    from_seq = before.seq + 1;
    prev = before.hash;
  }
  std::uint64_t seq = from_seq;
  for (std::size_t pos = 0; pos < tail.size(); ++seq) {
    const std::size_t nl = tail.find('\n', pos);
    const Entry e = entry_from_json(parse_canonical_line(std::string_view(tail).substr(pos, nl - pos)));
    pos = nl + 1;
    if (e.seq != seq || e.prev != prev || body_hash(e) != e.hash)
      fail(Category::integrity,
           fmt::format("transcript '{}' ends in unsigned entries that do not continue the log "
                       "(seq {}): lines were added by hand; check it with 'hsmctl transcript "
                       "verify'", file_.string(), seq));
    if (first_hash.empty()) first_hash = e.hash;
    prev = e.hash;
  }
  nlohmann::json record = {{"entries", state_.unsigned_tail},
                           {"from", from_seq},
                           {"head", state_.head},
                           {"bytes", end - begin}};
  // A copy first (what was cut is evidence: a batch that died, or lines put there by hand),
  // then the tree index, then the file: a crash in between leaves the cut to be made again.
  const auto copy = file_.parent_path() /
                    fmt::format("transcript.unsealed-{}-{}.jsonl", from_seq, first_hash.substr(0, 16));
  if (!std::filesystem::exists(copy)) write_new_file(copy, as_bytes(tail), 0600);
  record["copy"] = copy.filename().string();
  tree_store().catch_up(fd, end);
  tree_->truncate(from_seq);
  if (::ftruncate(fd, static_cast<off_t>(begin)) != 0 || ::fdatasync(fd) != 0)
    fail(Category::general, "cannot cut the unsealed tail of the transcript", std::strerror(errno));
  {  // what this process remembered of the file may reach into what was cut
    std::lock_guard lock(g_key_memo_mutex);
    g_key_memo.erase(file_.string());
  }
  {
    std::lock_guard lock(g_state_memo_mutex);
    g_state_memo.erase(file_.string());
  }
  offset_ = 0;
  state_ = {};
  catch_up(fd);
  return record;
}

std::uint64_t Transcript::sealed_entries() {
  if (!std::filesystem::exists(file_)) return 0;
  LockedFile f(file_, LOCK_SH);
  catch_up(f.fd());
  return state_.entries - state_.unsigned_tail;
}

void Transcript::sync() {
  if (!unsynced_) return;
  LockedFile f(file_, LOCK_SH);
  if (::fdatasync(f.fd()) != 0)
    fail(Category::general, "cannot sync the transcript to disk", std::strerror(errno));
  unsynced_ = false;
}

std::size_t Transcript::cut_torn_tail() {
  LockedFile f(file_, LOCK_EX);
  struct stat st {};
  ::fstat(f.fd(), &st);
  std::string all(static_cast<size_t>(st.st_size), '\0');
  if (::pread(f.fd(), all.data(), all.size(), 0) != static_cast<ssize_t>(all.size()))
    fail(Category::general, "cannot read the transcript", std::strerror(errno));
  if (all.empty() || all.back() == '\n') return 0;
  const size_t keep = all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1;
  if (::ftruncate(f.fd(), static_cast<off_t>(keep)) != 0 || ::fdatasync(f.fd()) != 0)
    fail(Category::general, "cannot cut the torn line", std::strerror(errno));
  offset_ = 0;
  state_ = {};
  return all.size() - keep;
}

}  // namespace hsm::transcript
