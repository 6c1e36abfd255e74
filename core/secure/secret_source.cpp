// Secret sources. Reads byte by byte into locked memory so no copy of a secret is left in a
// std::string or a stdio buffer.
#include "core/secure/secret_source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/interrupt.h"

namespace hsm {

namespace {

constexpr std::size_t kMaxSecret = 4096;

class Fd {
 public:
  explicit Fd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~Fd() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

// Waits until `fd` has input; throws Error(interrupted) if a ceremony's signal comes first.
void wait_for_input(int fd) {
  const int interrupt = interrupt_fd();
  if (interrupt < 0) return;
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {interrupt, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents & POLLIN) check_interrupt();
    return;  // input, end of file or an error: read() says which
  }
}

// Reads up to the first '\n' (or EOF) into locked memory; strips a trailing '\r'.
Secret read_line(int fd, std::string_view what, const std::string& where,
                 bool empty_ok = false) {
  Secret buf(kMaxSecret);
  std::size_t n = 0;
  for (;;) {
    std::uint8_t c = 0;
    wait_for_input(fd);
    const ssize_t r = ::read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      fail(Category::general, fmt::format("cannot read the {} from {}", what, where),
           std::strerror(errno));
    if (r == 0 || c == '\n') break;
    if (n == kMaxSecret)
      fail(Category::general, fmt::format("the {} from {} is longer than {} bytes", what, where,
                                          kMaxSecret));
    buf.data()[n++] = c;
  }
  if (n > 0 && buf.data()[n - 1] == '\r') --n;
  if (n == 0 && !empty_ok)
    fail(Category::general, fmt::format("the {} from {} is empty", what, where));
  return buf.prefix(n);
}

class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    ok_ = ::tcgetattr(fd_, &saved_) == 0;
    if (!ok_) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    remember_terminal_mode(fd_, &saved_);  // a signal that ends the process puts echo back
    ::tcsetattr(fd_, TCSAFLUSH, &quiet);
  }
  ~EchoOff() {
    if (!ok_) return;
    ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    remember_terminal_mode(fd_, nullptr);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  bool ok_ = false;
  termios saved_{};
};

Secret from_file(const std::string& path, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    fail(Category::general, fmt::format("cannot open the {} file '{}'", what, path),
         std::strerror(errno));
  Fd guard(fd, true);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail(Category::general, fmt::format("cannot inspect the {} file '{}'", what, path),
         std::strerror(errno));
  // Someone else's file may be swapped or read by them (root reads any file): as provisioning
  // files, a secret file must be the caller's own.
  if (st.st_uid != ::geteuid())
    fail(Category::general,
         fmt::format("the {} file '{}' belongs to uid {}, not to you (uid {}); copy it to a file "
                     "of your own with mode 0600", what, path, st.st_uid, ::geteuid()));
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0)
    fail(Category::general,
         fmt::format("the {} file '{}' is readable by group or others (mode {:04o}); "
                     "run 'chmod 600 {}'", what, path, st.st_mode & 07777, path));
  return read_line(fd, what, fmt::format("file '{}'", path));
}

Secret from_fd(const std::string& number, std::string_view what) {
  int fd = -1;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), fd);
  if (ec != std::errc() || end != number.data() + number.size() || fd < 0)
    fail(Category::usage, fmt::format("'fd:{}' is not a file descriptor number", number));
  if (::fcntl(fd, F_GETFD) < 0)
    fail(Category::general, fmt::format("file descriptor {} for the {} is not open", fd, what));
  return read_line(fd, what, fmt::format("fd {}", fd));
}

Secret from_env(const std::string& name, std::string_view what) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr)
    fail(Category::general,
         fmt::format("environment variable {} (the {}) is not set", name, what));
  Secret s = Secret::copy_of(std::string_view(value));
  if (s.empty()) fail(Category::general, fmt::format("environment variable {} is empty", name));
  return s;
}

}  // namespace

SecretSource SecretSource::parse(std::string_view spec) {
  auto with = [&](Kind k, std::string_view prefix) {
    std::string loc(spec.substr(prefix.size()));
    if (loc.empty())
      fail(Category::usage, fmt::format("secret source '{}' needs a value after ':'", spec));
    return SecretSource{k, std::move(loc)};
  };
  if (spec == "prompt") return SecretSource{};
  if (spec.rfind("env:", 0) == 0) return with(Kind::env, "env:");
  if (spec.rfind("file:", 0) == 0) return with(Kind::file, "file:");
  if (spec.rfind("fd:", 0) == 0) return with(Kind::fd, "fd:");
  fail(Category::usage, "a secret source is 'prompt', 'env:VAR', 'file:PATH' or 'fd:N'; "
                        "secrets are never accepted on the command line");
}

std::string SecretSource::describe() const {
  switch (kind) {
    case Kind::prompt: return "prompt";
    case Kind::env: return "env:" + location;
    case Kind::file: return "file:" + location;
    case Kind::fd: return "fd:" + location;
  }
  return "prompt";
}

namespace {

int open_terminal() {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    fail(Category::usage, "cannot prompt: no terminal; give the secret with a source such as "
                          "env:VAR, file:PATH or fd:N");
  return fd;
}

Secret prompt_terminal(std::string_view prompt, bool echo) {
  Fd guard(open_terminal(), true);
  [[maybe_unused]] const ssize_t shown = ::write(guard.get(), prompt.data(), prompt.size());
  if (echo) return read_line(guard.get(), "answer", "the terminal", true);
  EchoOff quiet(guard.get());
  return read_line(guard.get(), "answer", "the terminal", true);
}

// A prompt starts with a capital; the rest keeps its case ("user PIN" -> "User PIN").
std::string prompt_case(std::string_view what) {
  std::string s(what);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

Secret prompt_hidden(std::string_view prompt) { return prompt_terminal(prompt, false); }
Secret prompt_visible(std::string_view prompt) { return prompt_terminal(prompt, true); }

bool has_terminal() {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

void write_terminal(std::string_view text) {
  Fd guard(open_terminal(), true);
  [[maybe_unused]] const ssize_t n = ::write(guard.get(), text.data(), text.size());
}

Secret read_secret(const SecretSource& source, std::string_view what) {
  init_secure_memory();
  switch (source.kind) {
    case SecretSource::Kind::env: return from_env(source.location, what);
    case SecretSource::Kind::file: return from_file(source.location, what);
    case SecretSource::Kind::fd: return from_fd(source.location, what);
    case SecretSource::Kind::prompt: break;
  }
  Secret s = prompt_hidden(fmt::format("{}: ", prompt_case(what)));
  if (s.empty()) fail(Category::general, fmt::format("no {} given", what));
  return s;
}

Secret read_new_secret(const SecretSource& source, std::string_view what,
                       const std::function<void(const Secret&)>& check) {
  if (source.kind != SecretSource::Kind::prompt) {
    Secret s = read_secret(source, what);
    if (check) check(s);
    return s;
  }
  const std::string thing =
      what.substr(0, 4) == "new " ? std::string(what) : fmt::format("new {}", what);
  for (int attempt = 1;; ++attempt) {
    Secret first = prompt_hidden(fmt::format("{}: ", prompt_case(thing)));
    if (first.empty()) fail(Category::general, fmt::format("no {} given", what));
    if (check) check(first);
    const Secret again = prompt_hidden(fmt::format("Repeat the {}: ", thing));
    if (first.equals(again)) return first;
    if (attempt == kNewSecretAttempts)
      fail(Category::usage, fmt::format("the two entries of the {} differed {} times; nothing "
                                        "changed", thing, kNewSecretAttempts));
    write_terminal(fmt::format("The two entries differ; type the {} again ({} of {} tries "
                               "left).\n", thing, kNewSecretAttempts - attempt,
                               kNewSecretAttempts));
  }
}

}  // namespace hsm
