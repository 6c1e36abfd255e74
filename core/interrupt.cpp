// Signal handling for ceremonies: a flag and a self-pipe inside a scope, the default action
// (after restoring the terminal) outside one.
#include "core/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "core/error.h"

namespace hsm {

namespace {

static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

std::atomic<int> scope_depth{0};
std::atomic<int> signals_seen{0};
std::atomic<int> noted_signal{0};
int self_pipe[2] = {-1, -1};
std::atomic<int> terminal_fd{-1};
termios terminal_saved{};  // written before terminal_fd is set, read only when it is

constexpr int kInterruptSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Only async-signal-safe calls from here on: tcsetattr, sigaction, raise, write.
void end_by_default_action(int sig) {
  const int fd = terminal_fd.load();
  if (fd >= 0) ::tcsetattr(fd, TCSANOW, &terminal_saved);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);  // delivered when this handler returns (the signal is blocked until then)
}

extern "C" void on_interrupt(int sig) {
  const int saved_errno = errno;
  if (scope_depth.load() > 0 && signals_seen.fetch_add(1) < 2) {
    int none = 0;
    noted_signal.compare_exchange_strong(none, sig);
    if (self_pipe[1] >= 0) [[maybe_unused]] const ssize_t n = ::write(self_pipe[1], "!", 1);
  } else {
    end_by_default_action(sig);
  }
  errno = saved_errno;
}

}  // namespace

void install_interrupt_handlers() {
  if (self_pipe[0] >= 0) return;
  if (::pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0) self_pipe[0] = self_pipe[1] = -1;
  for (int sig : kInterruptSignals) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // ignored by whoever started us (nohup, &): keep it
    struct sigaction act {};
    act.sa_handler = on_interrupt;
    sigemptyset(&act.sa_mask);
    for (int other : kInterruptSignals) sigaddset(&act.sa_mask, other);
    act.sa_flags = SA_RESTART;
    ::sigaction(sig, &act, nullptr);
  }
}

InterruptScope::InterruptScope() noexcept { scope_depth.fetch_add(1); }

InterruptScope::~InterruptScope() {
  // Leaving the last scope with a signal noted: the ceremony has recorded it and undone its
  // work; whatever follows (printing the abort) is the process ending, not new work.
  scope_depth.fetch_sub(1);
}

int interrupt_signal() noexcept { return noted_signal.load(); }

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
  }
}

void check_interrupt() {
  if (const int sig = interrupt_signal(); sig != 0)
    fail(Category::interrupted, "interrupted by " + signal_name(sig));
}

int interrupt_fd() noexcept { return self_pipe[0]; }

void remember_terminal_mode(int fd, const termios* saved) noexcept {
  if (saved == nullptr) {
    terminal_fd.store(-1);
    return;
  }
  terminal_fd.store(-1);
  terminal_saved = *saved;
  terminal_fd.store(fd);
}

namespace {
std::string& report_line() {
  static std::string line;
  return line;
}
}  // namespace

void set_abort_report(std::string line) { report_line() = std::move(line); }
const std::string& abort_report() noexcept { return report_line(); }

}  // namespace hsm
