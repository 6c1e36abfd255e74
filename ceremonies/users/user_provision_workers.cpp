// Sealing one new user, and the forked worker processes of user provision --jobs. A worker is
// forked before the parent loads the PKCS#11 module, so its C_Initialize is its own; it
// inherits the parent's workspace lock (flock belongs to the open file description, and the
// forked DirLock registry already counts it), which only a process forked by the lock holder
// can do. It never writes the keystore or the transcript, and leaves with _exit so that
// nothing of the parent's (lock, database, buffers) is released or flushed twice.
#include "ceremonies/users/user_provision_workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <cstring>

#include "ceremonies/groups/group_agreement.h"
#include "ceremonies/users/user_layers.h"
#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "core/pkcs11/crypt.h"
#include "core/test_hooks.h"

namespace hsm {

namespace {

void write_all(int fd, std::string_view data) {
  if (!write_fully(fd, data.data(), data.size())) ::_exit(3);  // the parent is gone
}

// Lines from the parent's pipe: "go", then batches of row indices ("3 5 8"); end of file
// when there are no more. std::nullopt at end of file or on an error.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  std::optional<std::string> next() {
    for (;;) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

// The body of a worker process; never returns.
[[noreturn]] void run_worker(const WorkspaceOptions& options, const std::vector<ProvisionRow>& rows,
                             kdf::KdfProfile profile, Secret pin, int go, int out) {
  LineReader from_parent(go);
  if (from_parent.next() != "go") ::_exit(0);  // the parent gave up before starting us
  std::string batch;
  try {
    auto* ws = new Workspace(options);  // deliberately never destroyed: see the file comment
    ws->use_pin(std::move(pin));
    const p11::Session& s = ws->login();
    const MasterKeys mk = require_master(s);
    const std::string label = ws->token().label;
    write_all(out, wire::ready_frame());  // the parent starts the next worker only now (start())
    while (const auto line = from_parent.next()) {
      std::size_t pos = 0;
      while (pos < line->size()) {
        std::size_t i = 0;
        const auto [end, ec] = std::from_chars(line->data() + pos, line->data() + line->size(), i);
        if (ec != std::errc{} || i >= rows.size()) ::_exit(4);  // not from our parent
        SealOutcome o = seal_new_user(s, mk, rows[i], profile, label);
        test_hook("user-provision.worker-sealed");  // a kill here loses the batch's results
        o.index = i;
        batch += wire::outcome_frame(o);
        pos = static_cast<std::size_t>(end - line->data()) + 1;
      }
      write_all(out, batch);  // one write a batch: the parent hands out the next on it
      batch.clear();
    }
  } catch (const Error& e) {
    // The rows this worker still holds fail with the same reason (the parent knows which).
    write_all(out, batch);
    write_all(out, wire::fatal_frame(e.category(), e.what()));
    ::_exit(1);
  } catch (...) {
    ::_exit(2);
  }
  ::_exit(0);
}

}  // namespace

SealOutcome seal_new_user(const p11::Session& s, const MasterKeys& mk, const ProvisionRow& row,
                          kdf::KdfProfile profile, const std::string& token_label) {
  SealOutcome o;
  const UserAlgorithm& alg = user_algorithm(row.algorithm);
  try {
    EscrowedKey key = [&] {
      try {
        return generate_escrowed(s, alg.key, mk.wrap);
      } catch (const Error& e) {
        if (alg.key != p11::KeyAlgorithm::ed25519 || !p11::refused_as_not_wrappable(e)) throw;
        fail(Category::token, fmt::format("token '{}' cannot wrap Ed25519 private keys, so an "
                                          "Ed25519 user key could not be escrowed; use p256, "
                                          "p384 or rsa3072", token_label));
      }
    }();
    keystore::UserRecord& u = o.user;
    u.name = row.name;
    u.algorithm = row.algorithm;
    u.public_key = key.spki;
    u.secrets.key_version = 1;
    u.secrets.kdf = new_kdf(profile);
    {
      const p11::SessionObject kek = derive_user_kek(s, mk.derive, u.name, row.password, u.secrets.kdf);
      u.secrets.signing_key = seal_outer(s, kek, u.name, u.algorithm, 1, key.blob);
      if (!row.groups.empty()) {  // group keys are sealed to it, so make it now, not lazily
        EscrowedKey agreement = generate_agreement_key(s, mk.wrap);
        u.secrets.ecdh_key = seal_agreement_key(s, kek, u.name, 1, agreement.blob);
        u.ecdh_public_key = agreement.spki;
        sodium_memzero(agreement.blob.data(), agreement.blob.size());
      }
    }
    sodium_memzero(key.blob.data(), key.blob.size());
    o.ok = true;
  } catch (const Error& e) {
    o.category = e.category();
    o.error = e.what();
  }
  return o;
}

ProvisionWorkers::ProvisionWorkers(const WorkspaceOptions& options,
                                   const std::vector<ProvisionRow>& rows,
                                   const std::vector<std::size_t>& todo, kdf::KdfProfile profile,
                                   int jobs, const Secret& pin)
    : rows_(rows), profile_(kdf::kdf_profile_name(profile)), todo_(todo) {
  // Small enough that the last batches end together, large enough that a batch's one write
  // and one hand-out cost nothing next to its sealing.
  batch_ = std::clamp<std::size_t>(todo.size() / (static_cast<std::size_t>(jobs) * 16), 1, 64);
  workers_.resize(static_cast<std::size_t>(jobs));
  std::fflush(nullptr);
  for (Worker& w : workers_) {
    int go[2], res[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0)
      fail(Category::general, "cannot create a pipe for a provisioning worker", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) fail(Category::general, "cannot start a provisioning worker", std::strerror(errno));
    if (pid == 0) {
      // Ctrl-C at the terminal reaches the whole process group: a worker leaves it to the
      // parent, which stops the workers itself (SIGTERM, never during a login: see start()).
      ::signal(SIGINT, SIG_IGN);
      ::signal(SIGHUP, SIG_IGN);
      ::signal(SIGTERM, SIG_DFL);
      ::close(go[1]);
      ::close(res[0]);
      for (const Worker& other : workers_)
        if (other.pid > 0) { ::close(other.go); ::close(other.results); }
      run_worker(options, rows, profile, Secret::copy_of(pin.bytes()), go[0], res[1]);
    }
    ::close(go[0]);
    ::close(res[1]);
    w.pid = pid;
    w.go = go[1];
    w.results = res[0];
  }
}

ProvisionWorkers::~ProvisionWorkers() {
  for (Worker& w : workers_) {
    if (w.go >= 0) ::close(w.go);
    if (w.results >= 0) ::close(w.results);
    if (w.pid > 0) {
      ::kill(w.pid, SIGTERM);
      ::waitpid(w.pid, nullptr, 0);
    }
  }
}

void ProvisionWorkers::feed(Worker& w) {
  if (w.go < 0) return;
  if (next_ >= todo_.size()) {
    ::close(w.go);  // end of file: the worker leaves once it has reported what it holds
    w.go = -1;
    return;
  }
  std::string line;
  for (std::size_t k = 0; k < batch_ && next_ < todo_.size(); ++k, ++next_) {
    if (k > 0) line += ' ';
    line += std::to_string(todo_[next_]);
    w.held.push_back(todo_[next_]);
  }
  line += '\n';
  // A few hundred bytes into an empty-enough pipe (at most two batches are ever unread). A
  // dead worker's EPIPE is ignored here: collect() fails what it held.
  (void)!::write(w.go, line.data(), line.size());
}

void ProvisionWorkers::start() {
  // One at a time: SoftHSM 2.6.1 rewrites the token file at login, and another process reading
  // it meanwhile gets CKR_GENERAL_ERROR (measured here), so each worker logs in only after the
  // one before it has said "ready". After that they only make session objects.
  ::signal(SIGPIPE, SIG_IGN);
  char chunk[4096];
  for (Worker& w : workers_) {
    if (::write(w.go, "go\n", 3) != 3) { /* a dead worker shows up in collect() */ }
    while (!w.reader.peek()) {
      const ssize_t n = ::read(w.results, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // it died: collect() reaps it
      w.reader.append(chunk, static_cast<std::size_t>(n));
    }
    // Anything else (its fatal report) is left for collect().
    if (w.reader.peek() != wire::Kind::ready) continue;  // it failed: no rows for it
    w.reader.next(rows_, profile_);
    feed(w);  // two batches: the next is waiting while it works on one
    feed(w);
  }
}

void ProvisionWorkers::finish(Worker& w, int status, const std::function<void(SealOutcome&&)>& sink) {
  if (w.go >= 0) ::close(w.go);
  w.go = -1;
  if (!w.fatal.empty()) {
    last_fatal_ = w.fatal;
    last_fatal_category_ = w.fatal_category;
  } else if (!w.held.empty() || status != 0) {
    const std::string how = WIFSIGNALED(status)
                                ? fmt::format("was killed by signal {}", WTERMSIG(status))
                                : fmt::format("stopped with exit status {}", WEXITSTATUS(status));
    last_fatal_ = fmt::format("its provisioning worker {} before storing it; run the same "
                              "command again to create it", how);
    last_fatal_category_ = Category::general;
  }
  for (std::size_t index : w.held) {
    SealOutcome o;
    o.index = index;
    o.category = last_fatal_category_;
    o.error = last_fatal_;
    sink(std::move(o));
  }
  w.held.clear();
}

void ProvisionWorkers::collect(const std::function<void(SealOutcome&&)>& sink) {
  std::size_t open = workers_.size();
  std::vector<pollfd> fds;
  char chunk[65536];
  while (open > 0) {
    fds.clear();
    for (Worker& w : workers_) fds.push_back({w.results, POLLIN, 0});
    fds.push_back({interrupt_fd(), POLLIN, 0});  // a signal stops the batch (the caller's catch)
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail(Category::general, "waiting for the provisioning workers failed", std::strerror(errno));
    }
    if (fds.back().revents & POLLIN) check_interrupt();
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      Worker& w = workers_[k];
      if (w.results < 0 || fds[k].revents == 0) continue;
      const ssize_t n = ::read(w.results, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) w.reader.append(chunk, static_cast<std::size_t>(n));
      while (auto frame = w.reader.next(rows_, profile_)) {
        if (frame->kind == wire::Kind::fatal) {
          w.fatal_category = frame->outcome.category;
          w.fatal = std::move(frame->outcome.error);
          continue;
        }
        if (frame->kind != wire::Kind::outcome) continue;
        SealOutcome& o = frame->outcome;
        const auto held = std::find(w.held.begin(), w.held.end(), o.index);
        if (held == w.held.end()) continue;  // not a row it was given: ignore it
        w.held.erase(held);
        sink(std::move(o));
        if (w.held.size() <= batch_ && w.go >= 0) feed(w);
      }
      if (n > 0) continue;
      // End of the stream: the worker is done (or dead); reap it and fail what it held.
      ::close(w.results);
      w.results = -1;
      int status = 0;
      ::waitpid(w.pid, &status, 0);
      w.pid = -1;
      --open;
      finish(w, status, sink);
    }
  }
  // Rows no worker took: every worker stopped before the end.
  for (; next_ < todo_.size(); ++next_) {
    SealOutcome o;
    o.index = todo_[next_];
    o.category = last_fatal_category_;
    o.error = last_fatal_.empty() ? "no provisioning worker was left to take this row" : last_fatal_;
    sink(std::move(o));
  }
}

}  // namespace hsm
