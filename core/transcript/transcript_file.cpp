// The transcript file's low-level access (transcript_file.h).
#include "core/transcript/transcript_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/files.h"

namespace hsm::transcript {

LockedFile::LockedFile(const std::filesystem::path& p, int lock) {
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0)
    fail(Category::general, fmt::format("cannot open transcript '{}'", p.string()),
         std::strerror(errno));
  while (::flock(fd_, lock) != 0)
    if (errno != EINTR)
      fail(Category::general, fmt::format("cannot lock transcript '{}'", p.string()),
           std::strerror(errno));
}

LockedFile::~LockedFile() { ::close(fd_); }

void write_all(int fd, const std::string& s, const std::filesystem::path& p) {
  if (write_fully(fd, s.data(), s.size())) return;
  const int err = errno;
  fail(Category::general, fmt::format("cannot write transcript '{}'", p.string()),
       std::strerror(err));
}

std::string read_at(int fd, std::uint64_t offset, std::uint64_t n) {
  std::string out(n, '\0');
  if (::pread(fd, out.data(), out.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(out.size()))
    fail(Category::general, "cannot read the transcript", std::strerror(errno));
  return out;
}

std::string line_around(int fd, std::uint64_t size, std::uint64_t at, std::uint64_t* line_begin) {
  std::uint64_t begin = at, end = at;
  for (;;) {  // back to the previous newline (or the start of the file)
    if (begin == 0) break;
    const std::uint64_t lo = begin > kTailBlock ? begin - kTailBlock : 0;
    const std::string block = read_at(fd, lo, begin - lo);
    const std::size_t nl = block.rfind('\n');
    if (nl != std::string::npos) {
      begin = lo + nl + 1;
      break;
    }
    begin = lo;
  }
  for (;;) {  // forward to the next newline; the file ends in one
    const std::uint64_t hi = std::min(size, end + kTailBlock);
    const std::string block = read_at(fd, end, hi - end);
    const std::size_t nl = block.find('\n');
    if (nl != std::string::npos) {
      end += nl;
      break;
    }
    end = hi;
  }
  if (line_begin != nullptr) *line_begin = begin;
  return read_at(fd, begin, end - begin);
}

}  // namespace hsm::transcript
