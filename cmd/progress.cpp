#include "cmd/progress.h"

#include <unistd.h>

#include <fmt/format.h>

#include <iostream>

namespace hsm::cli {

namespace {
constexpr auto kQuietFor = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
}  // namespace

ProgressBar::ProgressBar(std::string what, bool wanted)
    : what_(std::move(what)), on_(wanted && ::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::size_t done, std::size_t total) {
  if (!on_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < kQuietFor) return;
  if (done < total && now - last_ < kRedrawEvery) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  const std::size_t width = 30, filled = width * std::min(done, total) / total;
  std::cerr << fmt::format("\r{} [{}{}] {}/{}  {:.0f}/s  ETA {:.0f}s \x1b[K", what_,
                           std::string(filled, '#'), std::string(width - filled, '.'), done,
                           total, rate, eta)
            << std::flush;
  shown_ = true;
}

void ProgressBar::finish() {
  if (shown_) std::cerr << "\n" << std::flush;
  shown_ = false;
}

}  // namespace hsm::cli
