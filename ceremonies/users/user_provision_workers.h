// The per-user work of user provision (seal one new user on the token) and the worker
// processes that do it in parallel for --jobs: forked before the parent touches PKCS#11, each
// with its own C_Initialize, session and login; they only compute, and send public results
// (public key, salt, sealed outer blob) back through a pipe. Never sends or prints a password.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/users/user_provision.h"
#include "ceremonies/users/user_provision_wire.h"
#include "core/error.h"
#include "core/kdf/argon2id.h"
#include "core/keystore/records.h"
#include "core/pkcs11/session.h"

namespace hsm {

SealOutcome seal_new_user(const p11::Session& s, const MasterKeys& mk, const ProvisionRow& row,
                          kdf::KdfProfile profile, const std::string& token_label);

// Worker processes that take rows in small batches as they go: a worker on a busier or slower
// core simply takes fewer (a fixed split made the slowest core set the pace). They are forked
// at construction and wait; start() lets them log in (with `pin`), one at a time, and hands
// each its first batches. Destruction kills (by pid) and reaps any worker still running.
class ProvisionWorkers {
 public:
  ProvisionWorkers(const WorkspaceOptions& options, const std::vector<ProvisionRow>& rows,
                   const std::vector<std::size_t>& todo, kdf::KdfProfile profile, int jobs,
                   const Secret& pin);
  ~ProvisionWorkers();
  ProvisionWorkers(const ProvisionWorkers&) = delete;
  ProvisionWorkers& operator=(const ProvisionWorkers&) = delete;

  void start();
  // Calls `sink` for each outcome as workers report them, until every row is accounted for.
  // The rows a worker held when it died come back as failures with its reason; rows no worker
  // took (all died) fail with the last reason given.
  void collect(const std::function<void(SealOutcome&&)>& sink);

 private:
  struct Worker {
    pid_t pid = -1;
    int go = -1, results = -1;  // parent ends of the pipes
    wire::FrameReader reader;
    std::vector<std::size_t> held;  // handed out, not yet reported
    std::string fatal;  // why the worker stopped early, if it said
    Category fatal_category = Category::general;
  };
  // Hands `w` the next batch of rows, or closes its pipe when there are none left.
  void feed(Worker& w);
  void finish(Worker& w, int status, const std::function<void(SealOutcome&&)>& sink);

  const std::vector<ProvisionRow>& rows_;  // the caller's, alive as long as this
  std::string profile_;                     // the KDF profile's name, for the records
  std::vector<Worker> workers_;
  std::vector<std::size_t> todo_;
  std::size_t next_ = 0;   // first row of todo_ not handed out
  std::size_t batch_ = 1;  // rows per batch
  std::string last_fatal_;
  Category last_fatal_category_ = Category::general;
};

}  // namespace hsm
