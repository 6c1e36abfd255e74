// The Merkle tree of DIR/transcript.jsonl kept beside it in DIR/tlog/: one file of hashes per
// height (h0 the leaf hashes, h8 and h16 ... C2SP tiles levels 1, 2 ...) and the end offset of
// every entry, so that tree heads, proofs, tiles and entry lookups never scan the log. It is
// derived data: hsmctl brings it up to date from the transcript under the transcript's lock,
// rebuilds it when it is missing, and refuses (integrity) when the transcript no longer holds
// what the store recorded of it: a truncated or rewritten log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tlog/merkle.h"

namespace hsm::tlog {

// C2SP tlog-tiles entry bundles length-prefix entries with a uint16: no entry may be longer.
inline constexpr std::size_t kMaxEntryBytes = 65535;

class TreeStore : public HashSource {
 public:
  // Opens (creating) DIR/tlog for the transcript at `transcript`; nothing is read yet.
  explicit TreeStore(const std::filesystem::path& transcript);
  ~TreeStore() override;
  TreeStore(const TreeStore&) = delete;
  TreeStore& operator=(const TreeStore&) = delete;

  std::uint64_t size() const override { return size_; }
  void read(unsigned height, std::uint64_t index, std::span<Hash> out) override;

  // Checks the store against the transcript open as `fd` (`file_size` bytes, whole lines) and
  // adds the entries it lacks. The caller holds the transcript's exclusive lock.
  void catch_up(int fd, std::uint64_t file_size);
  // Adds the entry just written: `line` without its newline, ending at byte `end` (after the
  // newline). The caller holds the exclusive lock and caught up before writing.
  void append(std::string_view line, std::uint64_t end);

  // Drops every leaf from `n` on (and the hashes above that depend on them): for the cut of an
  // unsealed tail (core/transcript/appender.h), made before the transcript itself is cut, so
  // that a crash between the two leaves a store the next catch-up extends, never one longer
  // than the log.
  void truncate(std::uint64_t n);
  // Byte range [begin, end) of entry `seq`'s line in the transcript, newline included.
  std::pair<std::uint64_t, std::uint64_t> entry_range(std::uint64_t seq);

 private:
  int fd_for(unsigned height);
  std::uint64_t count(int fd, std::size_t width) const;
  void open_and_repair();
  void add_leaf(const Hash& leaf, std::uint64_t end);
  std::uint64_t end_of(std::uint64_t seq);
  void remember_last();  // reads what the members below hold from the files

  std::filesystem::path dir_;
  std::filesystem::path transcript_;
  int offsets_fd_ = -1;
  std::vector<int> height_fds_;
  std::uint64_t size_ = 0;
  bool opened_ = false;
  // What this store last wrote or read of its own files, so that an append (which checks the
  // last entry against the transcript and needs the last hash of each height) reads the
  // transcript only: the last entry's byte range and leaf hash, and the last hash of each
  // height. Valid while `known_size_ == size_`.
  std::uint64_t known_size_ = 0;
  std::uint64_t last_begin_ = 0, last_end_ = 0;
  std::vector<Hash> last_hashes_;  // [k]: hash (size_ >> k) - 1 of height k, while it exists
};

}  // namespace hsm::tlog
