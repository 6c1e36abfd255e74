// fork + execv of /proc/self/exe with one pipe per secret, written and closed before the fork.
#include "ceremonies/plans/plan_exec.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hsm {

namespace {

class Fds {
 public:
  ~Fds() {
    for (int fd : fds) ::close(fd);
  }
  std::vector<int> fds;
};

int pipe_holding(const Secret& s) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    fail(Category::general, "cannot make a pipe for a step's PIN", std::strerror(errno));
  const auto bytes = s.bytes();
  std::string_view nl("\n");
  bool ok = bytes.size() + 1 < 4096 &&
            ::write(p[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
            ::write(p[1], nl.data(), 1) == 1;
  ::close(p[1]);
  if (!ok) {
    ::close(p[0]);
    fail(Category::general, "cannot hand a step its PIN through a pipe");
  }
  return p[0];
}

}  // namespace

int run_self(const ChildRun& run) {
  Fds fds;
  std::vector<std::string> sources;
  for (const Secret* s : run.secrets) {
    fds.fds.push_back(pipe_holding(*s));
    sources.push_back("fd:" + std::to_string(fds.fds.back()));
  }
  std::vector<std::string> args{"hsmctl"};
  const auto rest = run.args(sources);
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) fail(Category::general, "cannot start a step", std::strerror(errno));
  if (pid == 0) {
    for (int fd : fds.fds) ::fcntl(fd, F_SETFD, 0);  // inherited across exec
    if (run.stdout_to_stderr) ::dup2(2, 1);
    if (!run.cwd.empty() && ::chdir(run.cwd.c_str()) != 0) ::_exit(127);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail(Category::general, "lost a step's process", std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace hsm
