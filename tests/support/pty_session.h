// Runs a program with a pseudo-terminal as its controlling terminal (what /dev/tty prompts
// read and write), its stdout and stderr captured apart: for end-to-end tests of what a person
// sees and types at a terminal.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace hsm::test {

class PtySession {
 public:
  // Starts argv[0] with this process's environment plus `env` (an empty value removes a name).
  PtySession(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  ~PtySession();
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  // Waits until `needle` appears in the terminal output after what earlier expects consumed;
  // false after `seconds` or when the program ends first.
  bool expect(const std::string& needle, int seconds = 30);
  // Types `line` and Enter.
  void send_line(const std::string& line);
  // The same at a hidden prompt: waits until the program has turned echo off first (it
  // flushes the input when it does, so a line typed earlier would be lost).
  void send_hidden(const std::string& line);
  // Waits for the program and returns its exit code (128 + signal when killed); reads the rest
  // of the terminal output.
  int wait(int seconds = 60);

  const std::string& screen() const { return screen_; }  // everything written to the terminal
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  bool read_some(int timeout_ms);
  int master_ = -1;
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string screen_, out_, err_;
  std::size_t consumed_ = 0;
  int status_ = -1;
};

}  // namespace hsm::test
