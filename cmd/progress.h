// A progress bar on standard error for work that may take more than a second: shown only on a
// terminal and only once the work has run for a second, so quick runs and scripts see nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace hsm::cli {

// "what [#####.....] 120/1000  850/s  ETA 1s" on one rewritten stderr line, at most 10 times a
// second; `finish()` (or the destructor) ends the line if one was drawn.
class ProgressBar {
 public:
  // On only when standard error is a terminal and `wanted` (false for --json runs that pipe).
  ProgressBar(std::string what, bool wanted = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(std::size_t done, std::size_t total);
  void finish();

 private:
  std::string what_;
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace hsm::cli
