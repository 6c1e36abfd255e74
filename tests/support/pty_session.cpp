// PtySession: posix_openpt, a child in its own session with the pty slave as controlling
// terminal and stdin, stdout and stderr to pipes drained as the terminal is read.
#include "support/pty_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace hsm::test {

namespace {

void drain(int& fd, std::string& into) {
  if (fd < 0) return;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    ::close(fd);
    fd = -1;
  }
}

}  // namespace

PtySession::PtySession(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) {
    if (v.empty())
      vars.erase(k);
    else
      vars[k] = v;
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0)
    throw std::runtime_error("no pseudo-terminal");
  const std::string slave = ::ptsname(master_);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setsid();
    const int s = ::open(slave.c_str(), O_RDWR);
    if (s < 0) ::_exit(126);
    ::ioctl(s, TIOCSCTTY, 0);
    ::dup2(s, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  for (int fd : {master_, out_fd_, err_fd_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

PtySession::~PtySession() {
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {master_, out_fd_, err_fd_})
    if (fd >= 0) ::close(fd);
}

bool PtySession::read_some(int timeout_ms) {
  pollfd fds[3] = {{master_, POLLIN, 0}, {out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 3, timeout_ms) <= 0) return false;
  bool any = false;
  if (master_ >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
    drain(master_, screen_);  // EIO once the last slave closes: the terminal is gone
    any = true;
  }
  if (out_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
    drain(out_fd_, out_);
    any = true;
  }
  if (err_fd_ >= 0 && (fds[2].revents & (POLLIN | POLLHUP))) {
    drain(err_fd_, err_);
    any = true;
  }
  return any;
}

bool PtySession::expect(const std::string& needle, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    const auto at = screen_.find(needle, consumed_);
    if (at != std::string::npos) {
      consumed_ = at + needle.size();
      return true;
    }
    if (master_ < 0 || std::chrono::steady_clock::now() > deadline) return false;
    read_some(100);
  }
}

void PtySession::send_line(const std::string& line) {
  const std::string typed = line + "\r";
  size_t done = 0;
  while (done < typed.size()) {
    const ssize_t n = ::write(master_, typed.data() + done, typed.size() - done);
    if (n < 0 && errno != EAGAIN && errno != EINTR) throw std::runtime_error("pty write failed");
    if (n > 0) done += static_cast<size_t>(n);
  }
}

void PtySession::send_hidden(const std::string& line) {
  // On Linux the pty master reports the slave's terminal modes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (termios mode{}; std::chrono::steady_clock::now() < deadline;) {
    if (::tcgetattr(master_, &mode) == 0 && (mode.c_lflag & ECHO) == 0) break;
    read_some(20);
  }
  send_line(line);
}

int PtySession::wait(int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int st = 0;
  for (;;) {
    read_some(50);
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
  }
  while (read_some(50)) {
  }
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return status_;
}

}  // namespace hsm::test
