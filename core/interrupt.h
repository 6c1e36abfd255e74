// SIGINT, SIGTERM and SIGHUP as a ceremony sees them. While an InterruptScope lives (a
// ceremony is running) a signal is only noted: the handler sets a flag and writes a byte to a
// self-pipe, and the ceremony stops at its next safe point (a prompt, a transcript record, a
// row of a batch) by throwing Error(interrupted), so its ordinary rollback runs. Outside a
// scope the signal keeps its default action, after the handler has put back a terminal whose
// echo a prompt had turned off. The handler itself does only async-signal-safe things.
#pragma once

#include <termios.h>

#include <string>

namespace hsm {

// Installs the handlers (SA_RESTART: library calls such as SoftHSM's and SQLite's are not cut
// short; prompts and waits watch interrupt_fd()). Called once, by main.
void install_interrupt_handlers();

// While one lives, a signal is noted instead of ending the process. Nestable. A third signal
// ends the process anyway (default action), for a ceremony stuck where it cannot stop.
class InterruptScope {
 public:
  InterruptScope() noexcept;
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// The signal noted (SIGINT, ...), or 0.
int interrupt_signal() noexcept;
// "SIGINT", "SIGTERM", "SIGHUP".
std::string signal_name(int sig);
// Throws Error(interrupted) if a signal was noted: the safe points call it.
void check_interrupt();
// Readable once a signal was noted (and from then on); -1 before install_interrupt_handlers.
// Blocking waits poll it next to their own descriptor.
int interrupt_fd() noexcept;

// A prompt that turns echo off registers the terminal's saved mode here, so that a signal that
// ends the process puts it back; nullptr unregisters it.
void remember_terminal_mode(int fd, const termios* saved) noexcept;

// The one line main prints for an aborted ceremony (set by the recorder once the abort is
// recorded and undone); empty when there is none.
void set_abort_report(std::string line);
const std::string& abort_report() noexcept;

}  // namespace hsm
