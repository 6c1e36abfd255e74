// The transcript file's low-level access, shared by the appender and its fleet part: an
// flock held for a scope, whole writes, positioned reads and the line around an offset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace hsm::transcript {

// Reads of the file's tail go back in blocks of this size.
inline constexpr std::uint64_t kTailBlock = 64 * 1024;

// The transcript file, opened (created 0600 if missing, O_APPEND) and flock()ed with `lock`
// (LOCK_SH or LOCK_EX) for the object's life.
class LockedFile {
 public:
  LockedFile(const std::filesystem::path& p, int lock);
  ~LockedFile();  // closing releases the lock
  LockedFile(const LockedFile&) = delete;
  LockedFile& operator=(const LockedFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Writes all of `s` (Error(general) naming `p` otherwise).
void write_all(int fd, const std::string& s, const std::filesystem::path& p);
// `n` bytes at `offset`, all of them or Error(general).
std::string read_at(int fd, std::uint64_t offset, std::uint64_t n);
// The line of the file (of `size` bytes, ending in a newline) that holds byte `at`, without
// its newline: read in blocks around `at` until both ends are found.
// With `begin` set, the line's first byte goes there.
std::string line_around(int fd, std::uint64_t size, std::uint64_t at,
                        std::uint64_t* begin = nullptr);

}  // namespace hsm::transcript
