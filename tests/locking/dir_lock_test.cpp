// The workspace lock across processes (core/dir_lock.h): a holder may remove DIR/.hsmctl.lock
// before it lets go (a refused `transcript join` takes back what it made), and a process that
// was waiting on the removed file must not take that for the lock: it locks the file the path
// names now, and waits while another process holds that one.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <gtest/gtest.h>
#include <optional>

#include "core/dir_lock.h"
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

// Another process's hold on `path` (a descriptor of this test's own: flock belongs to the open
// file, and DirLock would share one lock within the process); -1 when it cannot be taken.
int lock_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The next byte the child wrote within `ms`, or nullopt.
std::optional<char> next_byte(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return std::nullopt;
  char c = 0;
  if (::read(fd, &c, 1) != 1) return std::nullopt;
  return c;
}

TEST(DirLock, AWaiterOnALockFileItsHolderRemovedLocksTheNewOne) {
  TempDir dir;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const auto path = dir.path() / ".hsmctl.lock";
  const int first = lock_file(path);
  ASSERT_GE(first, 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // 'W' once it waits, 'I' once it holds the lock. The copy of `first` goes: the lock
    // belongs to the open file, which would live on in this process.
    ::close(first);
    ::close(pipe_fds[0]);
    const int out = pipe_fds[1];
    try {
      DirLock lock(dir.path(), std::chrono::seconds(20),
                   [out] { [[maybe_unused]] auto n = ::write(out, "W", 1); });
      [[maybe_unused]] auto n = ::write(out, "I", 1);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  ASSERT_EQ(next_byte(pipe_fds[0], 10000), 'W');
  // The holder removes the lock file; a third process locks the new one at the same path; then
  // the holder lets go of the removed one.
  ASSERT_TRUE(std::filesystem::remove(path));
  const int next = lock_file(path);
  ASSERT_GE(next, 0);
  ::close(first);
  EXPECT_EQ(next_byte(pipe_fds[0], 700), std::nullopt)
      << "the waiter took the removed file's lock while another process held the path's";
  ::close(next);
  EXPECT_EQ(next_byte(pipe_fds[0], 10000), 'I');
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(pipe_fds[0]);
}

}  // namespace
}  // namespace hsm::test
