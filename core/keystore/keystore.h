// hsm::keystore::Keystore: the workspace database DIR/keystore.sqlite (users, signing keys,
// groups, the master record and its share commitments). It stores public data and wrapped
// blobs only and must never be given plaintext key material, a password, a share or an OTP seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/keystore/records.h"
#include "core/keystore/sqlite.h"

namespace hsm::keystore {

enum class OpenMode {
  create_if_missing,  // a new workspace: create DIR/keystore.sqlite (0600) if absent
  must_exist,         // read-mostly commands: a missing keystore is Error(not_found)
};

// One connection to DIR/keystore.sqlite. Opening creates the file 0600 (and SQLite gives the
// -wal and -shm files the same mode), refuses a file readable by others, a non-keystore and a
// newer schema, migrates an older one, and sets WAL, foreign keys, synchronous=FULL,
// secure_delete and a 10 s busy timeout so concurrent hsmctl processes wait for each other.
// A Keystore is one connection: give each thread or process its own.
//
// Each function below is atomic on its own; to group several, hold a Transaction:
//   Transaction tx(keystore); keystore.insert_user(a); keystore.insert_user(b); tx.commit();
// Unknown names throw Error(not_found, "user 'x' not found"); duplicates throw
// Error(not_found, "user 'x' already exists") (category not_found is also "already exists").
class Keystore {
 public:
  explicit Keystore(const std::filesystem::path& dir,
                    OpenMode mode = OpenMode::create_if_missing);
  Keystore(const Keystore&) = delete;
  Keystore& operator=(const Keystore&) = delete;

  static std::filesystem::path file_in(const std::filesystem::path& dir);
  Database& database() noexcept { return db_; }
  const std::string& path() const noexcept { return db_.path(); }
  int schema_version();

  // Problems found by PRAGMA integrity_check and foreign_key_check; empty when all is well.
  std::vector<std::string> integrity_check();

  // Workspace facts (workspace id, token serial, ...).
  std::optional<std::string> meta(std::string_view key);
  void set_meta(std::string_view key, std::string_view value);

  // ---- master (master.cpp) ----
  // Records a new master with its first share set (generation 1). Error(not_found) "already
  // exists" when the workspace has a master.
  void save_master(const MasterRecord& master);
  std::optional<MasterRecord> master();
  // Reshare: records `next` as the next generation, which retires every earlier set and its
  // custodians. Returns the new generation. Error(not_found) without a master.
  std::int64_t replace_share_set(const ShareSet& next);
  // Every share set, oldest first, each with its custodians and retired flag.
  std::vector<ShareSet> share_sets();
  void set_master_active(bool active);

  // ---- signing keys (keys.cpp) ----
  void insert_key(const KeyRecord& key);
  std::optional<KeyRecord> find_key(std::string_view label);
  std::vector<KeyRecord> list_keys();
  void set_key_status(std::string_view label, std::string_view status);
  // Increments the key's CRL number in one statement and returns the new value (1, 2, ...).
  std::int64_t next_crl_number(std::string_view label);
  void add_revocation(std::string_view key_label, const Revocation& revocation);
  std::vector<Revocation> list_revocations(std::string_view key_label);

  // ---- users (users.cpp) ----
  void insert_user(const UserRecord& user);
  std::optional<UserRecord> find_user(std::string_view name);
  std::vector<UserRecord> list_users();
  // The names alone, sorted (user provision's "exists already" check reads no blobs).
  std::vector<std::string> user_names();
  // `user passwd`: replaces every password-sealed field at once and sets `rotated`.
  void update_user_secrets(std::string_view name, const UserSecrets& secrets,
                           std::string_view rotated);
  // Refuses (Error(general)) a user who is still a member of a group: remove them from their
  // groups first, which rotates those group keys.
  void delete_user(std::string_view name);
  // Counts one failed authentication; with lock_after > 0 the user is locked when the count
  // reaches it. One statement, so concurrent failures are all counted.
  AuthFailures record_auth_failure(std::string_view name, std::int64_t lock_after);
  void reset_failures(std::string_view name);
  // Unlocking also resets the failure counter.
  void set_locked(std::string_view name, bool locked);
  // `user otp-enroll`: stores the sealed seed and the enrolled flag; resets the last step.
  void set_user_otp(std::string_view name, const std::optional<SealedBlob>& seed, bool enrolled);
  // Records `step` as used if it is later than the last accepted one; false means the code was
  // already used (or an older one was), so it must be refused. Atomic across processes.
  bool accept_otp_step(std::string_view name, std::int64_t step);

  // ---- groups (groups.cpp) ----
  // A group with its first members (each member's user must exist).
  void insert_group(const GroupRecord& group, const std::vector<GroupMember>& members);
  std::optional<GroupRecord> find_group(std::string_view name);
  std::vector<GroupRecord> list_groups();
  void delete_group(std::string_view name);
  void add_group_member(const GroupMember& member);
  void remove_group_member(std::string_view group, std::string_view user);
  std::optional<GroupMember> find_group_member(std::string_view group, std::string_view user);
  std::vector<GroupMember> list_group_members(std::string_view group);
  // Names of the groups a user belongs to.
  std::vector<std::string> groups_of(std::string_view user);
  // Gives a user who has none (made before group keys) a key-agreement key: its DER SPKI and
  // the outer layer over its inner blob, sealed under the user's current KEK. Error(general)
  // when the user already has one.
  void set_agreement_key(std::string_view user, const Bytes& public_key, const SealedBlob& sealed);
  // Rotation: new key material for the group and a new sealed copy for every remaining member,
  // replacing all old ones, atomically.
  void replace_group_key(const GroupRecord& group, const std::vector<GroupMember>& members);

  // ---- whole database (export.cpp) ----
  // Every row of every table, blobs in base64: {"format":"hsmctl-keystore","schema":N,
  // "tables":{"users":[{column: value, ...}, ...], ...}}. Round-trips exactly through import_all.
  // Reads inside one transaction (a consistent snapshot; writers wait meanwhile).
  nlohmann::json export_all();
  // Replaces the whole contents with an export of the same schema version, in one transaction.
  // A malformed document is Error(integrity) and changes nothing. Inside a caller's
  // Transaction, dangling references are only detected by the caller's commit().
  void import_all(const nlohmann::json& doc);

 private:
  Database db_;
};

}  // namespace hsm::keystore
