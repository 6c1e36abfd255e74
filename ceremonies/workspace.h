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
#include <string_view>

#include "core/config/config.h"
#include "core/dir_lock.h"
#include "core/keystore/keystore.h"
#include "core/pkcs11/module.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/token.h"
#include "core/secure/secret_source.h"
#include "core/transcript/fleet_log.h"

namespace hsm {

// What a command does with DIR (hsmctl(1), --dir).
enum class DirUse {
  none,      // looks only at the token or at files it is given: DIR is neither read nor made
  existing,  // DIR must already be a workspace: refused (exit 7) before anything is asked
  start,     // a ceremony that starts a workspace: DIR and DIR/keystore.sqlite are made if missing
};

struct WorkspaceOptions {
  std::string module_path;  // empty: the module a --token URI names, else the default
  std::string token;        // label or pkcs11: URI; empty: the only initialised token
  std::filesystem::path dir = ".";
  // The keystore: empty for DIR/keystore.sqlite, else a postgresql:// URL (--store,
  // HSMCTL_STORE, store = in hsmctl.toml). A workspace on PostgreSQL records its URL in
  // DIR/keystore.url, used when none is given; a different one is refused.
  std::string store;
  // This node's name in a fleet's transcript (node = in hsmctl.toml); empty: the name recorded
  // in DIR/keystore.url when the workspace joined, else the host name.
  std::string node;
  DirUse dir_use = DirUse::existing;
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
  // Whether this process has found the token able to keep the custody contract already
  // (require_capable_token in ceremonies/token/token_check.h): it is checked once.
  bool token_capable() const noexcept { return token_capable_; }
  void set_token_capable() noexcept { token_capable_ = true; }
  // DIR/keystore.sqlite, opened on first use (and created, 0600, by a ceremony that starts the
  // workspace).
  keystore::Keystore& keystore();
  // The keystore if this process has opened it, else nullptr (the Recorder records its state).
  keystore::Keystore* keystore_if_open() noexcept { return keystore_.get(); }
  // Makes sure DIR is a workspace before anything is written there: with DirUse::start creates
  // DIR and its keystore when missing, otherwise refuses a directory that is not a workspace
  // (exit 7); then takes the lock. keystore() and the Recorder call it.
  void open_dir();
  // Takes the workspace lock (DirLock) if DIR is a workspace (or this ceremony starts one) and
  // it is not held yet; module() and keystore() call it, so one process at a time uses a
  // workspace and its token. A directory that is not a workspace is left untouched.
  void hold_lock();
  // DIR has a keystore: keystore.sqlite, or keystore.url (a workspace on PostgreSQL).
  bool has_keystore() const;
  // A connection of its own to the workspace's keystore, without the workspace lock and
  // without the transcript's state check: for reads that are only hints (the signing service
  // reads a user's KDF costs before it takes the lock) or public (a share set's commitments).
  // Error(not_found) when DIR has no keystore.
  std::unique_ptr<keystore::Keystore> unlocked_keystore() const;
  // A workspace on PostgreSQL is a node of a fleet (docs/design.md "The fleet"): its transcript
  // is the database's, DIR/transcript.jsonl a replica. fleet_log() opens the keystore (joining
  // the fleet's transcript: copied into the replica and checked) and returns the connection
  // that appends to it; nullptr for an SQLite workspace. The fleet lock is taken with the
  // workspace lock and held as long.
  bool is_fleet() const { return !chosen_store().empty(); }
  transcript::FleetLog* fleet_log();
  // Why bringing the replica up to the database failed when the keystore was opened (empty if
  // it did not): reads go on; every append tries again and refuses (exit 4); doctor names it.
  const std::string& fleet_sync_error() const noexcept { return fleet_sync_error_; }

 private:
  void open_keystore();
  // The store this workspace uses ("" for keystore.sqlite), checked against what DIR records.
  std::string chosen_store() const;
  WorkspaceOptions options_;
  std::unique_ptr<DirLock> lock_;  // declared first: released last
  std::shared_ptr<transcript::FleetLock> fleet_lock_;  // held as long as lock_
  std::unique_ptr<transcript::FleetLog> fleet_;
  std::string fleet_sync_error_;
  std::shared_ptr<p11::Module> module_;
  std::optional<p11::TokenInfo> token_;
  std::unique_ptr<p11::Session> session_;
  bool logged_in_ = false;
  bool token_capable_ = false;
  Secret pin_;
  std::unique_ptr<keystore::Keystore> keystore_;
};

// The name of the account this process runs as (effective uid), from the password database.
std::string os_account();
// True when DIR holds keystore.sqlite, keystore.url or transcript.jsonl.
bool is_workspace(const std::filesystem::path& dir);
// Error(not_found) "'DIR' is not an hsmctl workspace ..." unless is_workspace(dir).
void require_workspace(const std::filesystem::path& dir);

// The commands that start a workspace, as "group verb": token init, master init, master
// restore, backup restore, transcript join (their cmd/ front ends pass DirUse::start; a plan with such a step
// starts its workspace at plan.begin).
bool starts_workspace(std::string_view command);

// The module path to use: the one a pkcs11: URI `token` names (module-path, module-name), else
// the given one, else the default (SoftHSM where found, otherwise p11-kit-proxy). A URI's
// module that differs from a given one is Error(usage).
std::string resolve_module_path(const std::string& given, std::string_view token = {});

}  // namespace hsm
