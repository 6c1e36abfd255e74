// The worker's kept token session (worker_token.h).
#include "ceremonies/service/worker_token.h"

#include "ceremonies/users/user_layers.h"
#include "core/pkcs11/token.h"

namespace hsm {

const p11::Session& WorkerToken::session() {
  if (!session_) {
    module_ = p11::Module::load(resolve_module_path(workspace_.module_path, workspace_.token));
    const p11::TokenInfo token = p11::select_token(*module_, workspace_.token);
    session_ = std::make_unique<p11::Session>(*module_, token.slot_id, true);
    master_.reset();
  }
  // A login the token already has answers at once; one that a workspace of this process ended
  // (its session logged in first, and logged out when it closed) is made again here.
  session_->login_user(pin_);
  return *session_;
}

const MasterKeys& WorkerToken::master() {
  if (!master_) master_ = require_master(session());
  return *master_;
}

void WorkerToken::reset() {
  master_.reset();
  session_.reset();
  module_.reset();
}

}  // namespace hsm
