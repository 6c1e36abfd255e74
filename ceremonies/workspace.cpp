// Lazy module/token/session/login for ceremonies.
#include "ceremonies/workspace.h"

#include <cstdlib>
#include <filesystem>

namespace hsm {

std::string resolve_module_path(const std::string& given) {
  return given.empty() ? p11::Module::find_softhsm() : given;
}

Workspace::Workspace(WorkspaceOptions options) : options_(std::move(options)) {
  if (options_.actor.empty()) {
    const char* user = std::getenv("USER");
    options_.actor = user != nullptr && *user != '\0' ? user : "operator";
  }
}

keystore::Keystore& Workspace::keystore() {
  if (!keystore_) {
    std::error_code ec;
    std::filesystem::create_directories(options_.dir, ec);
    hold_lock();
    keystore_ = std::make_unique<keystore::Keystore>(options_.dir);
  }
  return *keystore_;
}

Workspace::~Workspace() {
  session_.reset();  // log out and close before the module can be finalised
  keystore_.reset();
  module_.reset();   // then the lock, last (members are destroyed in reverse order)
}

void Workspace::hold_lock() {
  if (lock_) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(options_.dir, ec)) return;
  lock_ = std::make_unique<DirLock>(options_.dir, options_.lock_wait, options_.on_lock_wait);
}

p11::Module& Workspace::module() {
  hold_lock();
  if (!module_) module_ = p11::Module::load(resolve_module_path(options_.module_path));
  return *module_;
}

const p11::TokenInfo& Workspace::token() {
  if (!token_) token_ = p11::select_token(module(), options_.token);
  return *token_;
}

p11::Session& Workspace::session() {
  if (!session_) session_ = std::make_unique<p11::Session>(module(), token().slot_id, true);
  return *session_;
}

p11::Session& Workspace::login() {
  p11::Session& s = session();
  if (!logged_in_) {
    if (pin_.empty())
      pin_ = read_secret(options_.pin_source, "user PIN of token '" + token().label + "'");
    s.login_user(pin_);
    pin_ = Secret();
    logged_in_ = true;
  }
  return s;
}

}  // namespace hsm
