// Lazy module/token/session/login for ceremonies.
#include "ceremonies/workspace.h"

#include "core/transcript/appender.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/error.h"

namespace hsm {

bool is_workspace(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::exists(keystore::Keystore::file_in(dir), ec) ||
         std::filesystem::exists(dir / "transcript.jsonl", ec);
}

bool starts_workspace(std::string_view command) {
  return command == "token init" || command == "master init" || command == "master restore" ||
         command == "backup restore";
}

void require_workspace(const std::filesystem::path& dir) {
  if (is_workspace(dir)) return;
  fail(Category::not_found,
       fmt::format("'{}' is not an hsmctl workspace (no keystore.sqlite); point --dir at one, or "
                   "start one with 'hsmctl token init' or 'hsmctl master init'", dir.string()));
}

std::string resolve_module_path(const std::string& given, std::string_view token) {
  std::string chosen;
  if (p11::looks_like_uri(token)) chosen = p11::module_for_uri(p11::parse_uri(token));
  if (chosen.empty()) return given.empty() ? p11::Module::find_default() : given;
  if (!given.empty() && !p11::same_module(given, chosen))
    fail(Category::usage,
         fmt::format("the pkcs11: URI chooses module '{}', but the module given (--module, "
                     "HSMCTL_MODULE or hsmctl.toml) is '{}'; give only one of them",
                     chosen, given));
  return chosen;
}

std::string os_account() {
  const uid_t uid = ::geteuid();
  const passwd* pw = ::getpwuid(uid);
  // The password database names the account; a uid without an entry is recorded as "uid-N".
  if (pw == nullptr || pw->pw_name == nullptr || *pw->pw_name == '\0')
    return "uid-" + std::to_string(uid);
  return pw->pw_name;
}

Workspace::Workspace(WorkspaceOptions options) : options_(std::move(options)) {
  options_.account = os_account();
  if (options_.actor.empty()) options_.actor = options_.account;
  // Refused here, before any PIN or share is asked for.
  if (options_.dir_use == DirUse::existing) require_workspace(options_.dir);
}

void Workspace::open_dir() {
  if (options_.dir_use != DirUse::start) {
    require_workspace(options_.dir);
    hold_lock();
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec)
    fail(Category::general, fmt::format("cannot create the workspace directory '{}'",
                                        options_.dir.string()), ec.message());
  hold_lock();
  if (!keystore_) open_keystore();
}

keystore::Keystore& Workspace::keystore() {
  if (!keystore_) {
    open_dir();
    if (!keystore_) open_keystore();
  }
  return *keystore_;
}

void Workspace::open_keystore() {
  auto ks = std::make_unique<keystore::Keystore>(options_.dir);
  // Writes go on top of the state the transcript recorded last, never of a copy of the file.
  const auto file = options_.dir / "transcript.jsonl";
  try {
    if (keystore::Keystore::state_upkeep_on() && std::filesystem::exists(file))
      if (const auto recorded = transcript::Transcript(file).latest_state())
        ks->expect_state(recorded->root);
  } catch (const Error&) {
    // A damaged transcript (a torn line, a bad state entry): nothing can be recorded until it
    // is repaired, and require_recorded_row refuses every use meanwhile; reading goes on.
  }
  keystore_ = std::move(ks);
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
  if (options_.dir_use != DirUse::start && !is_workspace(options_.dir)) return;
  lock_ = std::make_unique<DirLock>(options_.dir, options_.lock_wait, options_.on_lock_wait);
}

p11::Module& Workspace::module() {
  hold_lock();
  if (!module_)
    module_ = p11::Module::load(resolve_module_path(options_.module_path, options_.token));
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
