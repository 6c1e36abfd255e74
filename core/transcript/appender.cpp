// Locked, synced appends with incremental catch-up.
#include "core/transcript/appender.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/test_hooks.h"
#include "core/transcript/canonical_json.h"

namespace hsm::transcript {

namespace {

class LockedFile {
 public:
  LockedFile(const std::filesystem::path& p, int lock) {
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
      fail(Category::general, fmt::format("cannot open transcript '{}'", p.string()),
           std::strerror(errno));
    while (::flock(fd_, lock) != 0)
      if (errno != EINTR)
        fail(Category::general, fmt::format("cannot lock transcript '{}'", p.string()),
             std::strerror(errno));
  }
  ~LockedFile() { ::close(fd_); }  // closing releases the lock
  LockedFile(const LockedFile&) = delete;
  LockedFile& operator=(const LockedFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

void write_all(int fd, const std::string& s, const std::filesystem::path& p) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      fail(Category::general, fmt::format("cannot write transcript '{}'", p.string()),
           std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

Transcript::Transcript(std::filesystem::path file) : file_(std::move(file)) {}

void Transcript::catch_up(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Category::general, "cannot stat the transcript");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < offset_)
    fail(Category::integrity, fmt::format("transcript '{}' shrank while in use", file_.string()));
  if (size == offset_) return;
  std::string chunk(size - offset_, '\0');
  if (::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(offset_)) !=
      static_cast<ssize_t>(chunk.size()))
    fail(Category::general, "cannot read the transcript", std::strerror(errno));
  size_t pos = 0;
  while (pos < chunk.size()) {
    const size_t nl = chunk.find('\n', pos);
    if (nl == std::string::npos)
      fail(Category::integrity,
           fmt::format("transcript '{}' ends in a torn line (an interrupted write); check it with "
                       "'hsmctl transcript verify' and cut it with --repair", file_.string()));
    const Entry e = entry_from_json(parse_canonical_line(std::string_view(chunk).substr(pos, nl - pos)));
    if (e.seq != state_.entries)
      fail(Category::integrity, fmt::format("transcript seq {} found where {} was expected; run "
                                            "'hsmctl transcript verify'", e.seq, state_.entries));
    if (e.event == "transcript.open" || e.event == "transcript.key") {
      try {
        state_.current_key = from_base64(e.data.value("public_key", ""));
        state_.current_key_id = e.data.value("key_id", "");
      } catch (const nlohmann::json::exception&) {
        fail(Category::integrity, fmt::format("transcript seq {} has a malformed key entry; run "
                                              "'hsmctl transcript verify'", e.seq));
      }
    }
    state_.head = e.hash;
    ++state_.entries;
    pos = nl + 1;
  }
  offset_ = size;
}

TranscriptState Transcript::state() {
  if (!std::filesystem::exists(file_)) return state_;
  LockedFile f(file_, LOCK_SH);
  catch_up(f.fd());
  return state_;
}

Entry Transcript::append(const std::string& event, const std::string& actor,
                         const std::string& ceremony, const nlohmann::json& data, Signer& signer) {
  LockedFile f(file_, LOCK_EX);
  catch_up(f.fd());
  const bool self_signed = event == "transcript.open" ||
                           (event == "transcript.key" && data.value("endorsed", true) == false);
  if (event == "transcript.open" && state_.entries != 0)
    fail(Category::general, "transcript already open");
  if (!self_signed && signer.public_key() != state_.current_key)
    fail(Category::general, "internal: entry signed by a key that is not the transcript's current key");
  Entry e;
  e.seq = state_.entries;
  e.time = utc_now_rfc3339();
  e.ceremony = ceremony;
  e.event = event;
  e.actor = actor;
  e.data = data;
  e.prev = state_.head;
  e.hash = body_hash(e);
  e.sig = to_base64(signer.sign(from_hex(e.hash)));
  const std::string line = to_line(e) + "\n";
  test_hook("transcript.before-write");
  write_all(f.fd(), line, file_);
  if (::fdatasync(f.fd()) != 0)
    fail(Category::general, "cannot sync the transcript to disk", std::strerror(errno));
  test_hook("transcript.after-write");
  catch_up(f.fd());
  return e;
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
