// forkpty (or pipes) and a poll loop that keeps both outputs drained while the test waits.
#include "support/live_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace hsm::test {

namespace {

std::vector<std::string> environment_with(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) {
    if (v == "<unset>") vars.erase(k);
    else vars[k] = v;
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

LiveProcess::LiveProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, bool terminal)
    : terminal_(terminal) {
  std::vector<std::string> env_strings = environment_with(env);
  std::vector<std::string> args_copy = argv;
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : args_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int err_pipe[2], out_pipe[2] = {-1, -1};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (!terminal && ::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (terminal) {
    winsize size{40, 120, 0, 0};
    int master = -1;
    pid_ = ::forkpty(&master, nullptr, nullptr, &size);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
      ::dup2(err_pipe[1], 2);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    out_fd_ = master;
  } else {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      ::setsid();  // no controlling terminal
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
  }
  ::close(err_pipe[1]);
  err_fd_ = err_pipe[0];
}

LiveProcess::~LiveProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

bool LiveProcess::pump(int ms) {
  if (out_done_ && err_fd_ < 0) return false;
  pollfd fds[2] = {{out_done_ ? -1 : out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, ms) < 0 && errno != EINTR) return false;
  char buf[65536];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
    if (n > 0) {
      (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {  // a terminal master says EIO once the program left
      if (i == 0) {
        out_done_ = true;  // the terminal stays open: its mode can still be read
      } else {
        ::close(err_fd_);
        err_fd_ = -1;
      }
    }
  }
  return !out_done_ || err_fd_ >= 0;
}

bool LiveProcess::wait_for(const std::string& needle, std::size_t from,
                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (out_.size() > from && out_.find(needle, from) != std::string::npos) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!pump(static_cast<int>(std::min<long>(left.count(), 200)))) {
      return out_.size() > from && out_.find(needle, from) != std::string::npos;
    }
  }
}

bool LiveProcess::wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (err_.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline || !pump(100))
      return err_.find(needle) != std::string::npos;
  }
  return true;
}

bool LiveProcess::wait_echo_off(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    termios t{};
    if (terminal_ && out_fd_ >= 0 && ::tcgetattr(out_fd_, &t) == 0 && (t.c_lflag & ECHO) == 0)
      return true;
    pump(10);
  }
  return false;
}

bool LiveProcess::echo_on() const {
  termios t{};
  return terminal_ && out_fd_ >= 0 && ::tcgetattr(out_fd_, &t) == 0 && (t.c_lflag & ECHO) != 0;
}

void LiveProcess::type(const std::string& text) {
  if (!terminal_ || out_fd_ < 0) return;
  [[maybe_unused]] const ssize_t n = ::write(out_fd_, text.data(), text.size());
}

void LiveProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void LiveProcess::signal_group(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

RunResult LiveProcess::finish(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  while (!exited) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited = true;
      pid_ = -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      exited = true;
      break;
    }
    pump(100);
  }
  // Whatever is still buffered (a terminal keeps its output after the program left).
  for (int i = 0; i < 50 && pump(20); ++i) {
  }
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = out_;
  r.err = err_;
  return r;
}

}  // namespace hsm::test
