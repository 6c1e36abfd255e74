// Temp file, write, fsync, link: the streamed twin of write_new_file.
#include "ceremonies/data/output_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/files.h"

namespace hsm {

void refuse_existing_output(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an "
                                          "output file", path.string()));
}

OutputFile::OutputFile(std::filesystem::path path, unsigned mode) : path_(std::move(path)) {
  refuse_existing_output(path_);
  const auto dir = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
  std::uint8_t rnd[4];
  randombytes_buf(rnd, sizeof rnd);
  tmp_ = dir / fmt::format(".{}.{:02x}{:02x}{:02x}{:02x}.tmp", path_.filename().string(), rnd[0],
                           rnd[1], rnd[2], rnd[3]);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd_ < 0)
    fail(Category::general, fmt::format("cannot create a file in '{}'", dir.string()),
         std::strerror(errno));
  ::fchmod(fd_, mode);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void OutputFile::write(ByteView data) {
  if (write_fully(fd_, data.data(), data.size())) return;
  const int err = errno;
  fail(Category::general, fmt::format("cannot write '{}'", path_.string()), std::strerror(err));
}

CreatedFile OutputFile::commit() {
  struct stat st {};
  if (::fsync(fd_) != 0 || ::fstat(fd_, &st) != 0)
    fail(Category::general, fmt::format("cannot write '{}'", path_.string()), std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::link(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST)
      fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an "
                                            "output file", path_.string()));
    fail(Category::general, fmt::format("cannot write '{}'", path_.string()), std::strerror(err));
  }
  ::unlink(tmp_.c_str());
  tmp_.clear();
  const auto dir = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {path_, st.st_dev, st.st_ino};
}

}  // namespace hsm
