// A program running in the background that a test talks to while it runs: through a
// pseudo-terminal (its controlling terminal, stdin and stdout, as a person at a terminal
// would see it) or through pipes; stderr is always a pipe of its own. For the interactive
// end-to-end tests (shares on screen, Ctrl-C) and for signalling a batch mid-way.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "support/process.h"

namespace hsm::test {

class LiveProcess {
 public:
  // `terminal`: a pseudo-terminal (forkpty) as controlling terminal, stdin and stdout; else
  // stdin is /dev/null, stdout a pipe, and there is no controlling terminal.
  LiveProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
              bool terminal);
  ~LiveProcess();  // kills (SIGKILL) and reaps the program if it still runs
  LiveProcess(const LiveProcess&) = delete;
  LiveProcess& operator=(const LiveProcess&) = delete;

  // Reads output until `needle` appears in what the terminal (or stdout) showed after byte
  // `from`, or the timeout passes or the program ends; returns whether it appeared.
  bool wait_for(const std::string& needle, std::size_t from = 0,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The same for its stderr.
  bool wait_for_stderr(const std::string& needle,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Waits until the program has turned the terminal's echo off (a hidden prompt is ready;
  // typing earlier would be echoed, then flushed).
  bool wait_echo_off(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Whether the terminal echoes typed characters now (also after the program has left).
  bool echo_on() const;
  // Types on the terminal ("\x03" is Ctrl-C: the terminal sends SIGINT to the program).
  void type(const std::string& text);
  // Sends `sig` to the program's process (not its group).
  void signal(int sig);
  // Sends `sig` to its whole process group, as Ctrl-C at its terminal would (it leads one: the
  // program runs in a session of its own).
  void signal_group(int sig);
  // Reads until the program ends (or the timeout, then kills it) and returns its exit code,
  // all it showed on the terminal or stdout (`out`) and its stderr (`err`).
  RunResult finish(std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Everything shown so far.
  const std::string& shown() const { return out_; }
  pid_t pid() const { return pid_; }

 private:
  // One poll round of at most `ms`; false once both outputs are closed.
  bool pump(int ms);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;  // terminal master (or stdout pipe), stderr pipe
  bool terminal_ = false;
  bool out_done_ = false;  // the terminal (or stdout) has nothing more to read
  std::string out_, err_;
  int code_ = -1;
};

}  // namespace hsm::test
