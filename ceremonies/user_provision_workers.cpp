// Sealing one new user, and the forked worker processes of user provision --jobs. A worker is
// forked before the parent loads the PKCS#11 module, so its C_Initialize is its own; it
// inherits the parent's workspace lock (flock belongs to the open file description, and the
// forked DirLock registry already counts it), which only a process forked by the lock holder
// can do. It never writes the keystore or the transcript, and leaves with _exit so that
// nothing of the parent's (lock, database, buffers) is released or flushed twice.
#include "ceremonies/user_provision_workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "ceremonies/user_layers.h"
#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/pkcs11/crypt.h"

namespace hsm {

namespace {

// Outcome lines on the pipe: "index\tok\tspki\tsalt\tops\tmem\tnonce\tblob" (base64) or
// "index\terr\tcategory\tmessage". Public values only.
std::string encode(const SealOutcome& o) {
  if (!o.ok) {
    std::string msg = o.error;
    for (char& c : msg) if (c == '\t' || c == '\n') c = ' ';
    return fmt::format("{}\terr\t{}\t{}\n", o.index, static_cast<int>(o.category), msg);
  }
  const auto& s = o.user.secrets;
  return fmt::format("{}\tok\t{}\t{}\t{}\t{}\t{}\t{}\n", o.index, to_base64(o.user.public_key),
                     to_base64(s.kdf.salt), s.kdf.opslimit, s.kdf.memlimit,
                     to_base64(s.signing_key.nonce), to_base64(s.signing_key.ciphertext));
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (;;) {
    const std::size_t t = line.find('\t', start);
    f.push_back(line.substr(start, t == std::string_view::npos ? line.npos : t - start));
    if (t == std::string_view::npos) return f;
    start = t + 1;
  }
}

SealOutcome decode(std::string_view line, const std::vector<ProvisionRow>& rows,
                   const std::string& profile) {
  const auto f = split_tabs(line);
  SealOutcome o;
  o.index = std::stoul(std::string(f.at(0)));
  if (f.at(1) == "err") {
    o.category = static_cast<Category>(std::stoi(std::string(f.at(2))));
    o.error = std::string(f.at(3));
    return o;
  }
  o.ok = true;
  keystore::UserRecord& u = o.user;
  u.name = rows.at(o.index).name;
  u.algorithm = rows.at(o.index).algorithm;
  u.public_key = from_base64(f.at(2));
  u.secrets.kdf = {profile, from_base64(f.at(3)), std::stoull(std::string(f.at(4))),
                   std::stoull(std::string(f.at(5)))};
  u.secrets.signing_key = {from_base64(f.at(7)), from_base64(f.at(6))};
  return o;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);  // the parent is gone
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The body of a worker process; never returns.
[[noreturn]] void run_worker(const WorkspaceOptions& options, const std::vector<ProvisionRow>& rows,
                             const std::vector<std::size_t>& mine, kdf::KdfProfile profile,
                             Secret pin, int go, int out) {
  char byte = 0;
  ssize_t n;
  do n = ::read(go, &byte, 1); while (n < 0 && errno == EINTR);
  if (n != 1) ::_exit(0);  // the parent gave up before starting us
  std::string batch;
  try {
    auto* ws = new Workspace(options);  // deliberately never destroyed: see the file comment
    ws->use_pin(std::move(pin));
    const p11::Session& s = ws->login();
    const MasterKeys mk = require_master(s);
    const std::string label = ws->token().label;
    write_all(out, "ready\n");  // the parent starts the next worker only now (see start())
    for (std::size_t i : mine) {
      SealOutcome o = seal_new_user(s, mk, rows[i], profile, label);
      o.index = i;
      batch += encode(o);
      if (batch.size() > 16384) { write_all(out, batch); batch.clear(); }
    }
  } catch (const Error& e) {
    // Whatever is left of this worker's share fails with the same reason.
    write_all(out, batch);
    batch.clear();
    std::string msg = e.what();
    for (char& c : msg) if (c == '\t' || c == '\n') c = ' ';
    write_all(out, fmt::format("fatal\t{}\t{}\n", static_cast<int>(e.category()), msg));
    ::_exit(1);
  } catch (...) {
    ::_exit(2);
  }
  write_all(out, batch);
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
      u.secrets.signing_key = seal_outer(s, kek.handle(), u.name, u.algorithm, 1, key.blob);
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
                                   int jobs, const Secret& pin) {
  workers_.resize(static_cast<std::size_t>(jobs));
  for (std::size_t k = 0; k < todo.size(); ++k) workers_[k % workers_.size()].rows.push_back(todo[k]);
  std::fflush(nullptr);
  for (Worker& w : workers_) {
    int go[2], res[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0)
      fail(Category::general, "cannot create a pipe for a provisioning worker", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) fail(Category::general, "cannot start a provisioning worker", std::strerror(errno));
    if (pid == 0) {
      ::close(go[1]);
      ::close(res[0]);
      for (const Worker& other : workers_)
        if (other.pid > 0) { ::close(other.go); ::close(other.results); }
      run_worker(options, rows, w.rows, profile, Secret::copy_of(pin.bytes()), go[0], res[1]);
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

void ProvisionWorkers::start() {
  // One at a time: SoftHSM 2.6.1 rewrites the token file at login, and another process reading
  // it meanwhile gets CKR_GENERAL_ERROR (measured here), so each worker logs in only after the
  // one before it has said "ready". After that they only make session objects.
  ::signal(SIGPIPE, SIG_IGN);
  char chunk[4096];
  for (Worker& w : workers_) {
    if (::write(w.go, "g", 1) != 1) { /* a dead worker shows up in collect() */ }
    ::close(w.go);
    w.go = -1;
    while (w.buffer.find('\n') == std::string::npos) {
      const ssize_t n = ::read(w.results, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // it died: collect() reaps it and fails its rows
      w.buffer.append(chunk, static_cast<std::size_t>(n));
    }
    if (w.buffer.rfind("ready\n", 0) == 0) w.buffer.erase(0, 6);
  }
}

void ProvisionWorkers::collect(const std::function<void(SealOutcome&&)>& sink,
                               const std::vector<ProvisionRow>& rows, const std::string& profile) {
  std::size_t open = workers_.size();
  std::vector<pollfd> fds;
  char chunk[65536];
  while (open > 0) {
    fds.clear();
    for (Worker& w : workers_) fds.push_back({w.results, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail(Category::general, "waiting for the provisioning workers failed", std::strerror(errno));
    }
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      Worker& w = workers_[k];
      if (w.results < 0 || fds[k].revents == 0) continue;
      const ssize_t n = ::read(w.results, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) w.buffer.append(chunk, static_cast<std::size_t>(n));
      {
        std::size_t nl;
        while ((nl = w.buffer.find('\n')) != std::string::npos) {
          const std::string line = w.buffer.substr(0, nl);
          w.buffer.erase(0, nl + 1);
          if (line.rfind("fatal\t", 0) == 0) {
            const auto f = split_tabs(line);
            w.fatal_category = static_cast<Category>(std::stoi(std::string(f.at(1))));
            w.fatal = std::string(f.at(2));
            continue;
          }
          ++w.reported;
          sink(decode(line, rows, profile));
        }
        if (n > 0) continue;
      }
      // End of the stream: the worker is done (or dead); reap it and fail what it left.
      ::close(w.results);
      w.results = -1;
      int status = 0;
      ::waitpid(w.pid, &status, 0);
      w.pid = -1;
      --open;
      for (std::size_t r = w.reported; r < w.rows.size(); ++r) {
        SealOutcome o;
        o.index = w.rows[r];
        o.category = w.fatal.empty() ? Category::general : w.fatal_category;
        o.error = w.fatal.empty() ? fmt::format("a provisioning worker stopped (status {}) before "
                                                "this row", status) : w.fatal;
        sink(std::move(o));
      }
    }
  }
}

}  // namespace hsm
