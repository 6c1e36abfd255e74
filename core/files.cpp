// Atomic, no-overwrite file creation.
#include "core/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace hsm {

bool write_fully(int fd, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (w == 0) {
      errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

CreatedFile write_new_file(const std::filesystem::path& path, ByteView data, unsigned mode) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an "
                                          "output file", path.string()));
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  char suffix[9];
  std::uint8_t rnd[4];
  randombytes_buf(rnd, sizeof rnd);
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
  const auto tmp = dir / ("." + path.filename().string() + "." + suffix + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    fail(Category::general, fmt::format("cannot create a file in '{}'", dir.string()),
         std::strerror(errno));
  ::fchmod(fd, mode);
  bool ok = write_fully(fd, data.data(), data.size());
  ok = ok && ::fsync(fd) == 0;
  struct stat st {};
  ok = ok && ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!ok || ::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST)
      fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an "
                                            "output file", path.string()));
    fail(Category::general, fmt::format("cannot write '{}'", path.string()), std::strerror(err));
  }
  ::unlink(tmp.c_str());
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {path, st.st_dev, st.st_ino};
}

bool remove_created_file(const CreatedFile& f) noexcept {
  struct stat st {};
  if (::lstat(f.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != f.dev ||
      st.st_ino != f.ino)
    return false;
  return ::unlink(f.path.c_str()) == 0;
}

void replace_file(const std::filesystem::path& path, std::string_view data, unsigned mode) {
  const auto tmp = path.parent_path() / fmt::format(".{}.{}.tmp", path.filename().string(), ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  bool ok = fd >= 0 && write_fully(fd, data.data(), data.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(Category::general, fmt::format("cannot write '{}'", path.string()), why);
  }
}

FileLock::FileLock(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) fail(Category::general, fmt::format("cannot open '{}'", path.string()), std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0)
    if (errno != EINTR) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      fail(Category::general, fmt::format("cannot lock '{}'", path.string()), why);
    }
}

FileLock::~FileLock() { ::close(fd_); }

Bytes read_file(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("{} '{}' does not exist or cannot be read", what,
                                                 path.string()));
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace hsm
