// A worker's own session at the token, kept from one batch of signatures to the next: the
// module loaded, the token selected, the user logged in and the master keys found once. The
// batch's token work that needs no keystore lock (checking a user's factors, making the
// signature) runs on it before the batch takes the workspace, so that the two workers' token
// work goes on side by side and only the recording takes turns (group_commit.h). Any error
// drops it; the next use opens it again. Used by one thread at a time (the worker's TokenGate).
#pragma once

#include <memory>
#include <optional>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/workspace.h"
#include "core/pkcs11/module.h"
#include "core/pkcs11/session.h"
#include "core/secure/secret.h"

namespace hsm {

class WorkerToken {
 public:
  WorkerToken(const WorkspaceOptions& workspace, const Secret& pin)
      : workspace_(workspace), pin_(pin) {}
  // The logged-in session, opened (or logged in again, after a ceremony of this process logged
  // the token out) as needed. Throws what opening the token throws.
  const p11::Session& session();
  // The master keys, found once per opening. Error(not_found) without a master.
  const MasterKeys& master();
  // Forgets everything (after an error): the next session() opens the token again.
  void reset();

 private:
  const WorkspaceOptions& workspace_;
  const Secret& pin_;
  std::shared_ptr<p11::Module> module_;  // keeps the module loaded between batches
  std::unique_ptr<p11::Session> session_;
  std::optional<MasterKeys> master_;
};

}  // namespace hsm
