// An exclusive lock on a workspace directory (DIR/.hsmctl.lock, flock), held for a whole
// command so two hsmctl processes never use the same workspace and token at once: ceremonies
// stay whole in the transcript, and tokens whose module is not safe across processes (SoftHSM
// 2.6.1 reports CKR_GENERAL_ERROR or "no token" while another process rewrites its files) are
// only ever used by one of them. Its holder may remove the lock file before releasing it (a
// refused `transcript join` takes back what it made): a waiter then locks the new file instead.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace hsm {

class DirLock {
 public:
  // Takes the lock on `dir` (which must exist), waiting up to `wait` for another process;
  // `on_wait` is called once if it has to wait. Times out as Error(general). Within one
  // process the lock is shared: a second DirLock on the same directory does not wait.
  DirLock(const std::filesystem::path& dir, std::chrono::milliseconds wait,
          const std::function<void()>& on_wait);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  std::filesystem::path key_;
};

}  // namespace hsm
