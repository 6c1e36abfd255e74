// Lazy module/token/session/login for ceremonies.
#include "ceremonies/workspace.h"

#include "core/transcript/appender.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/error.h"
#include "core/keystore/postgres.h"

namespace hsm {

namespace {

namespace fs = std::filesystem;

// DIR/keystore.url: the PostgreSQL store of a workspace (its URL, never a password), the
// binding id the database's meta row holds too, and the node name this workspace signs the
// fleet's transcript as (docs/design.md "PostgreSQL keystore").
constexpr const char* kStoreRecord = "keystore.url";
constexpr const char* kBindingMeta = "workspace_binding";

struct StoreRecord {
  std::string url, binding, node;
};

std::optional<StoreRecord> read_store_record(const fs::path& dir) {
  std::ifstream in(dir / kStoreRecord);
  if (!in) return std::nullopt;
  StoreRecord r;
  std::getline(in, r.url);
  std::getline(in, r.binding);
  std::getline(in, r.node);
  return r;
}

void write_store_record(const fs::path& dir, const StoreRecord& r) {
  const fs::path file = dir / kStoreRecord, tmp = dir / (std::string(kStoreRecord) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << r.url << '\n' << r.binding << '\n' << r.node << '\n';
    if (!out.flush())
      fail(Category::general, fmt::format("cannot write {}", tmp.string()));
  }
  ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) fail(Category::general, fmt::format("cannot write {}", file.string()), ec.message());
}

std::string new_binding() {
  std::random_device random;
  std::string hex;
  for (int i = 0; i < 4; ++i) hex += fmt::format("{:08x}", random());
  return hex;
}

// The database is this workspace's, or a fleet's whose transcript is in the database: another
// workspace joins it (the replica's catch-up then checks that its transcript is a prefix of the
// fleet's). A database that another workspace uses but whose transcript is not there yet is
// refused: that workspace's file is still the only record of its state.
void bind_store(keystore::Keystore& ks, const fs::path& dir, const std::string& url,
                const std::string& node, bool fleet_has_transcript) {
  auto recorded = read_store_record(dir);
  const auto held = ks.meta(kBindingMeta);
  if (held && (!recorded || recorded->binding != *held)) {
    if (!fleet_has_transcript)
      fail(Category::general,
           fmt::format("keystore {} belongs to another workspace, whose transcript is not in the "
                       "database yet; run one ceremony in that workspace first (it puts its "
                       "transcript there), then this one joins the fleet", ks.path()));
    recorded = StoreRecord{url, *held, node};
  }
  if (!recorded) recorded = StoreRecord{url, new_binding(), node};
  recorded->node = node;
  if (!held) ks.set_meta(kBindingMeta, recorded->binding);
  write_store_record(dir, *recorded);
}

}  // namespace

bool is_workspace(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::exists(keystore::Keystore::file_in(dir), ec) ||
         std::filesystem::exists(dir / kStoreRecord, ec) ||
         std::filesystem::exists(dir / "transcript.jsonl", ec);
}

bool starts_workspace(std::string_view command) {
  return command == "token init" || command == "master init" || command == "master restore" ||
         command == "backup restore" || command == "transcript join";
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

bool Workspace::has_keystore() const {
  std::error_code ec;
  return fs::exists(keystore::Keystore::file_in(options_.dir), ec) ||
         fs::exists(options_.dir / kStoreRecord, ec);
}

std::string Workspace::chosen_store() const {
  const auto recorded = read_store_record(options_.dir);
  const std::string& given = options_.store;
  if (given.empty()) return recorded ? recorded->url : std::string();
  if (recorded && recorded->url != given)
    fail(Category::usage,
         fmt::format("workspace '{}' keeps its keystore at {} ({}), but the store given is {}; "
                     "give that one or none", options_.dir.string(),
                     keystore::pg::describe(recorded->url), kStoreRecord,
                     keystore::pg::describe(given)));
  std::error_code ec;
  if (!recorded && fs::exists(keystore::Keystore::file_in(options_.dir), ec))
    fail(Category::usage,
         fmt::format("workspace '{}' keeps its keystore in keystore.sqlite, but the store given "
                     "is {}; a workspace keeps its store (move one with backup create and "
                     "backup restore)", options_.dir.string(), keystore::pg::describe(given)));
  return given;
}

std::unique_ptr<keystore::Keystore> Workspace::unlocked_keystore() const {
  if (!has_keystore())
    fail(Category::not_found, fmt::format("'{}' is not an hsmctl workspace (no keystore)",
                                          options_.dir.string()));
  const std::string store = chosen_store();
  if (store.empty())
    return std::make_unique<keystore::Keystore>(options_.dir, keystore::OpenMode::must_exist);
  return std::make_unique<keystore::Keystore>(keystore::PostgresTarget{store});
}

void Workspace::open_keystore() {
  const std::string store = chosen_store();
  std::unique_ptr<keystore::Keystore> ks;
  const auto file = options_.dir / "transcript.jsonl";
  if (store.empty()) {
    ks = std::make_unique<keystore::Keystore>(options_.dir);
  } else {
    ks = std::make_unique<keystore::Keystore>(keystore::PostgresTarget{store});
    if (!fleet_) hold_lock();  // normally taken already (open_dir)
    if (!fleet_) fail(Category::general, "internal: a fleet workspace without its fleet lock");
    fleet_->ensure_table();
    bind_store(*ks, options_.dir, store, fleet_->node(), fleet_->size() > 0);
    // The replica first: the state checks below compare with the fleet's latest record.
    try {
      transcript::Transcript replica(file);
      replica.set_fleet(fleet_.get());
      replica.sync_with_fleet();
    } catch (const Error& e) {
      fleet_sync_error_ = e.what();  // every append refuses; doctor names it
    }
  }
  // Writes go on top of the state the transcript recorded last, never of a copy of the file.
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

transcript::FleetLog* Workspace::fleet_log() {
  if (!is_fleet()) return nullptr;
  keystore();
  return fleet_.get();
}

Workspace::~Workspace() {
  session_.reset();  // log out and close before the module can be finalised
  keystore_.reset();
  module_.reset();
  fleet_.reset();
  fleet_lock_.reset();  // then the workspace lock, last (members go in reverse order)
}

void Workspace::hold_lock() {
  if (lock_) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(options_.dir, ec)) return;
  if (options_.dir_use != DirUse::start && !is_workspace(options_.dir)) return;
  lock_ = std::make_unique<DirLock>(options_.dir, options_.lock_wait, options_.on_lock_wait);
  // A fleet's node also takes the fleet lock for as long: one ceremony at a time across the
  // fleet, so no node sees a keystore change before the transcript entry that records it.
  if (const std::string store = chosen_store(); !store.empty() && !fleet_) {
    std::string node = options_.node;
    if (node.empty())
      if (const auto recorded = read_store_record(options_.dir); recorded) node = recorded->node;
    if (node.empty()) node = transcript::host_name();
    fleet_lock_ = transcript::FleetLock::hold(store, options_.lock_wait, options_.on_lock_wait);
    fleet_ = std::make_unique<transcript::FleetLog>(store, node);
  }
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
