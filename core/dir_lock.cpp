// flock(2) on DIR/.hsmctl.lock; released by the kernel when the process dies.
#include "core/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"

namespace hsm {

namespace {

struct Held {
  int fd = -1;
  int count = 0;
};
// flock belongs to an open file description, so this process's holders share one.
std::mutex held_mutex;
std::map<std::filesystem::path, Held>& held() {
  static std::map<std::filesystem::path, Held> map;
  return map;
}

int open_lock_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    fail(Category::general, "cannot open the workspace lock " + path.string(), std::strerror(errno));
  return fd;
}

// The lock file may have been removed by the process that held it (a refused command that
// started the workspace takes back what it made, the lock file too): a lock on the removed file
// locks nothing that the next process would see, so the caller opens the path again.
bool still_the_lock_file(int fd, const std::filesystem::path& path) {
  struct stat held {}, now {};
  return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &now) == 0 &&
         held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

int take(const std::filesystem::path& dir, std::chrono::milliseconds wait,
         const std::function<void()>& on_wait) {
  const std::filesystem::path path = dir / ".hsmctl.lock";
  int fd_ = open_lock_file(path);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool told = false;
  std::chrono::milliseconds backoff(1);
  for (;;) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      if (still_the_lock_file(fd_, path)) break;
      ::close(fd_);
      fd_ = open_lock_file(path);
      continue;
    }
    const int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      ::close(fd_);
      fail(Category::general, "cannot lock the workspace " + dir.string(), std::strerror(err));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd_);
      fail(Category::general, "another hsmctl is still using the workspace " + dir.string() +
                                  "; try again when it has finished");
    }
    if (interrupt_signal() != 0) {
      ::close(fd_);
      check_interrupt();
    }
    if (!told && on_wait) on_wait();
    told = true;
    // Short waits first (the service's workers take the lock for a few milliseconds each),
    // then every 20 ms.
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(20));
  }
  return fd_;
}

}  // namespace

DirLock::DirLock(const std::filesystem::path& dir, std::chrono::milliseconds wait,
                 const std::function<void()>& on_wait) {
  std::error_code ec;
  key_ = std::filesystem::weakly_canonical(dir, ec);
  if (ec) key_ = std::filesystem::absolute(dir);
  std::lock_guard guard(held_mutex);
  Held& h = held()[key_];
  if (h.count == 0) {
    try {
      h.fd = take(dir, wait, on_wait);
    } catch (...) {
      held().erase(key_);
      throw;
    }
  }
  ++h.count;
}

DirLock::~DirLock() {
  std::lock_guard guard(held_mutex);
  auto it = held().find(key_);
  if (it == held().end()) return;
  if (--it->second.count == 0) {
    ::close(it->second.fd);  // closing the descriptor releases the flock
    held().erase(it);
  }
}

}  // namespace hsm
