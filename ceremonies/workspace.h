// The workspace a ceremony works in: the PKCS#11 module, the selected token, a logged-in
// session, and the directory holding keystore.sqlite, transcript.jsonl and hsmctl.toml.
// Everything is opened lazily, once, and released in reverse order.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/config/config.h"
#include "core/dir_lock.h"
#include "core/keystore/keystore.h"
#include "core/pkcs11/module.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/token.h"
#include "core/secure/secret_source.h"

namespace hsm {

struct WorkspaceOptions {
  std::string module_path;  // empty: the SoftHSM found on the system
  std::string token;        // label or pkcs11: URI; empty: the only initialised token
  std::filesystem::path dir = ".";
  SecretSource pin_source;
  // Who runs the ceremony, as the transcript's `actor`: --actor NAME (checked like a user name
  // by the caller), else the operating-system account. Never taken from the environment.
  std::string actor;
  std::string account;      // set by Workspace: the account of the effective uid (getpwuid)
  std::string log_origin;   // the checkpoints' origin line; empty: derived (see checkpoint_ops.h)
  // How long to wait for another hsmctl holding the workspace, and what to say meanwhile.
  std::chrono::milliseconds lock_wait{std::chrono::seconds(120)};
  std::function<void()> on_lock_wait;
};

class Workspace {
 public:
  explicit Workspace(WorkspaceOptions options);
  ~Workspace();

  const WorkspaceOptions& options() const noexcept { return options_; }
  p11::Module& module();
  const p11::TokenInfo& token();
  // A read-write session on the token, not logged in.
  p11::Session& session();
  // The session, logged in as the user with the PIN from --pin-source (read once).
  p11::Session& login();
  // Supplies the PIN that login() will use instead of reading --pin-source (a ceremony that
  // has just set it, like token init, must not ask for it again).
  void use_pin(Secret pin) { pin_ = std::move(pin); }
  // DIR/keystore.sqlite, created (0600) on first use.
  keystore::Keystore& keystore();
  // Takes the workspace lock (DirLock) if the directory exists and it is not held yet;
  // module() and keystore() call it, so one process at a time uses a workspace and its token.
  void hold_lock();

 private:
  WorkspaceOptions options_;
  std::unique_ptr<DirLock> lock_;  // declared first: released last
  std::shared_ptr<p11::Module> module_;
  std::optional<p11::TokenInfo> token_;
  std::unique_ptr<p11::Session> session_;
  bool logged_in_ = false;
  Secret pin_;
  std::unique_ptr<keystore::Keystore> keystore_;
};

// The name of the account this process runs as (effective uid), from the password database.
std::string os_account();

// The module path to use: the given one, or the SoftHSM found on the system.
std::string resolve_module_path(const std::string& given);

}  // namespace hsm
