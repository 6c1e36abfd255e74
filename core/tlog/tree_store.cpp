// DIR/tlog/: hash files by height and entry end offsets, written with pwrite at fixed offsets
// (a crash leaves a shorter file, repaired from the height below on the next open).
#include "core/tlog/tree_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hsm::tlog {

namespace {

void pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t at) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      fail(Category::general, "cannot write the transcript's tree index", std::strerror(errno));
    p += w;
    n -= static_cast<std::size_t>(w);
    at += static_cast<std::uint64_t>(w);
  }
}

void pread_all(int fd, void* data, std::size_t n, std::uint64_t at, const char* what) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail(Category::general, fmt::format("cannot read {}", what), std::strerror(errno));
    p += r;
    n -= static_cast<std::size_t>(r);
    at += static_cast<std::uint64_t>(r);
  }
}

std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

TreeStore::TreeStore(const std::filesystem::path& transcript)
    : dir_(transcript.parent_path() / "tlog"), transcript_(transcript) {}

TreeStore::~TreeStore() {
  if (offsets_fd_ >= 0) ::close(offsets_fd_);
  for (int fd : height_fds_)
    if (fd >= 0) ::close(fd);
}

int TreeStore::fd_for(unsigned height) {
  while (height_fds_.size() <= height) height_fds_.push_back(-1);
  if (height_fds_[height] < 0) {
    const auto p = dir_ / fmt::format("h{}", height);
    height_fds_[height] = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (height_fds_[height] < 0)
      fail(Category::general, fmt::format("cannot open '{}'", p.string()), std::strerror(errno));
  }
  return height_fds_[height];
}

std::uint64_t TreeStore::count(int fd, std::size_t width) const {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Category::general, "cannot stat the transcript's tree index");
  return static_cast<std::uint64_t>(st.st_size) / width;
}

void TreeStore::open_and_repair() {
  if (opened_) return;
  std::error_code ec;
  std::filesystem::create_directory(dir_, ec);
  if (ec) fail(Category::general, fmt::format("cannot create '{}'", dir_.string()), ec.message());
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
  const auto offsets = dir_ / "offsets";
  offsets_fd_ = ::open(offsets.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (offsets_fd_ < 0)
    fail(Category::general, fmt::format("cannot open '{}'", offsets.string()), std::strerror(errno));
  // The leaves both files hold; anything beyond is an interrupted write, dropped.
  size_ = std::min(count(fd_for(0), sizeof(Hash)), count(offsets_fd_, 8));
  if (::ftruncate(fd_for(0), static_cast<off_t>(size_ * sizeof(Hash))) != 0 ||
      ::ftruncate(offsets_fd_, static_cast<off_t>(size_ * 8)) != 0)
    fail(Category::general, "cannot repair the transcript's tree index", std::strerror(errno));
  // Each height holds exactly size >> k hashes: missing ones are made from the height below.
  for (unsigned k = 1; (size_ >> k) > 0; ++k) {
    const std::uint64_t want = size_ >> k;
    std::uint64_t have = std::min(count(fd_for(k), sizeof(Hash)), want);
    for (; have < want; ++have) {
      Hash pair[2];
      read(k - 1, 2 * have, pair);
      const Hash h = node_hash(pair[0], pair[1]);
      pwrite_all(fd_for(k), h.data(), h.size(), have * sizeof(Hash));
    }
    if (::ftruncate(fd_for(k), static_cast<off_t>(want * sizeof(Hash))) != 0)
      fail(Category::general, "cannot repair the transcript's tree index", std::strerror(errno));
  }
  opened_ = true;
}

void TreeStore::read(unsigned height, std::uint64_t index, std::span<Hash> out) {
  if (index + out.size() > (size_ >> height))
    fail(Category::general, "internal: tree hashes read beyond the tree");
  pread_all(fd_for(height), out.data(), out.size_bytes(), index * sizeof(Hash),
            "the transcript's tree index");
}

std::uint64_t TreeStore::end_of(std::uint64_t seq) {
  std::uint8_t b[8];
  pread_all(offsets_fd_, b, 8, seq * 8, "the transcript's tree index");
  return load_u64(b);
}

std::pair<std::uint64_t, std::uint64_t> TreeStore::entry_range(std::uint64_t seq) {
  if (seq >= size_) fail(Category::usage, fmt::format("the log has no entry {}", seq));
  return {seq == 0 ? 0 : end_of(seq - 1), end_of(seq)};
}

void TreeStore::add_leaf(const Hash& leaf, std::uint64_t end) {
  const std::uint64_t n = size_ + 1;
  const bool known = known_size_ == size_ && size_ > 0;
  const std::vector<Hash> done = completed_by(n, leaf, [&](unsigned k) {
    if (known) return last_hashes_[k - 1];  // the last hash of height k - 1 before this leaf
    Hash h{};
    read(k - 1, (n >> (k - 1)) - 2, std::span<Hash>(&h, 1));
    return h;
  });
  std::uint8_t b[8];
  store_u64(b, end);
  pwrite_all(offsets_fd_, b, 8, size_ * 8);
  pwrite_all(fd_for(0), leaf.data(), leaf.size(), size_ * sizeof(Hash));
  size_ = n;  // the heights above are repaired on open if a crash stops us here
  for (unsigned k = 1; k <= done.size(); ++k)
    pwrite_all(fd_for(k), done[k - 1].data(), sizeof(Hash), ((n >> k) - 1) * sizeof(Hash));
  if (known || n == 1) {
    last_hashes_.resize(std::max<std::size_t>(last_hashes_.size(), done.size() + 1));
    last_hashes_[0] = leaf;
    for (unsigned k = 1; k <= done.size(); ++k) last_hashes_[k] = done[k - 1];
    last_begin_ = n == 1 ? 0 : last_end_;
    last_end_ = end;
    known_size_ = n;
  }
}

void TreeStore::remember_last() {
  const auto [begin, end] = entry_range(size_ - 1);
  last_begin_ = begin;
  last_end_ = end;
  last_hashes_.clear();
  for (unsigned k = 0; (size_ >> k) > 0; ++k) {
    Hash h{};
    read(k, (size_ >> k) - 1, std::span<Hash>(&h, 1));
    last_hashes_.push_back(h);
  }
  known_size_ = size_;
}

void TreeStore::catch_up(int fd, std::uint64_t file_size) {
  open_and_repair();
  if (size_ > 0 && known_size_ != size_) remember_last();
  std::uint64_t at = size_ == 0 ? 0 : last_end_;
  if (at > file_size)
    fail(Category::integrity,
         fmt::format("transcript '{}' is shorter than the {} entries its tree index recorded: "
                     "it was truncated; check it with 'hsmctl transcript verify --checkpoint' "
                     "(if the index itself was damaged, remove '{}' to rebuild it)",
                     transcript_.string(), size_, dir_.string()));
  if (size_ > 0) {  // the last entry recorded must still be there, byte for byte
    std::string line(last_end_ - last_begin_, '\0');  // with its newline
    pread_all(fd, line.data(), line.size(), last_begin_, "the transcript");
    if (line.empty() || line.back() != '\n' ||
        leaf_hash(as_bytes(std::string_view(line).substr(0, line.size() - 1))) != last_hashes_[0])
      fail(Category::integrity,
           fmt::format("transcript '{}' entry {} is not the entry its tree index recorded: the "
                       "log was rewritten; check it with 'hsmctl transcript verify "
                       "--checkpoint' (if the index itself was damaged, remove '{}' to rebuild "
                       "it)", transcript_.string(), size_ - 1, dir_.string()));
  }
  constexpr std::uint64_t kBlock = 1 << 20;
  std::string carry;
  while (at < file_size) {
    std::string block(std::min(kBlock, file_size - at), '\0');
    pread_all(fd, block.data(), block.size(), at, "the transcript");
    const std::uint64_t block_start = at - carry.size();
    block.insert(0, carry);
    std::size_t pos = 0;
    for (std::size_t nl; (nl = block.find('\n', pos)) != std::string::npos; pos = nl + 1)
      add_leaf(leaf_hash(as_bytes(std::string_view(block).substr(pos, nl - pos))),
               block_start + nl + 1);
    carry = block.substr(pos);
    at = block_start + block.size();
  }
  if (!carry.empty())
    fail(Category::integrity, fmt::format("transcript '{}' ends in a torn line", transcript_.string()));
}

void TreeStore::truncate(std::uint64_t n) {
  open_and_repair();
  if (n >= size_) return;
  // Height k keeps its hashes of whole subtrees of 2^k leaves below n: n >> k of them.
  for (unsigned k = 0; (size_ >> k) > 0; ++k)
    if (::ftruncate(fd_for(k), static_cast<off_t>((n >> k) * sizeof(Hash))) != 0)
      fail(Category::general, "cannot cut the transcript's tree index", std::strerror(errno));
  if (::ftruncate(offsets_fd_, static_cast<off_t>(n * 8)) != 0 || ::fdatasync(offsets_fd_) != 0 ||
      ::fdatasync(fd_for(0)) != 0)
    fail(Category::general, "cannot cut the transcript's tree index", std::strerror(errno));
  size_ = n;
  known_size_ = 0;  // the last entry's range and hashes are read again when needed
  if (n > 0) remember_last();
}

void TreeStore::append(std::string_view line, std::uint64_t end) {
  open_and_repair();
  add_leaf(leaf_hash(as_bytes(line)), end);
}

}  // namespace hsm::tlog
