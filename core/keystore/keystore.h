// hsm::keystore::Keystore: the workspace database DIR/keystore.sqlite, or a PostgreSQL database
// (--store), (users, signing keys,
// groups, the master record and its share commitments). It stores public data and wrapped
// blobs only and must never be given plaintext key material, a password, a share or an OTP seed.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
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
  // A keystore in a PostgreSQL database (the tables in the connection's current schema, made
  // there when missing): docs/design.md "PostgreSQL keystore".
  explicit Keystore(const PostgresTarget& target);
  ~Keystore();
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
  // insert_user of each, as one change (user provision's chunks). On PostgreSQL the rows, their
  // state digests and the buckets they fall in go in one statement each, not one per user.
  void insert_users(const std::vector<UserRecord>& users);
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
  // reaches it. One statement, so concurrent failures are all counted; was_locked says the user
  // was locked already (read in the same transaction, which holds the keystore's write lock).
  AuthFailures record_auth_failure(std::string_view name, std::int64_t lock_after);
  void reset_failures(std::string_view name);
  // The last step of an authentication whose factors were right, one transaction: the failures
  // reset and (with a one-time code) `step` marked used, by one update made conditional on the
  // user not being locked (and on the step being later than the last one accepted); its row
  // count decides. So a guess that was in flight when the account locked never succeeds, with
  // or without the keystore lock around it. Without a code and with no failures to reset, one
  // read decides and nothing is written (the common case of a signature).
  AuthAcceptance accept_authentication(std::string_view name, std::optional<std::int64_t> step);
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
  // Before an encryption group's rotation, in the same transaction: keeps the current key
  // version (its public key, and the layers of every member but `removed`) as an old version,
  // and deletes `removed`'s layers of every version kept before. `retired`: now.
  void keep_group_version(std::string_view group, std::string_view removed,
                          const std::string& retired);
  // A kept old version of a group as a GroupRecord (created: when it was retired), and one
  // member's layer of it; nullopt when not kept.
  std::optional<GroupRecord> find_old_group_key(std::string_view group, std::int64_t version);
  std::optional<GroupMember> find_old_group_layer(std::string_view group, std::string_view user,
                                                  std::int64_t version);
  // The kept old key versions of a group, ascending.
  std::vector<std::int64_t> old_group_versions(std::string_view group);
  // A layer of kept old version `version` for a member added later (group add).
  void add_old_group_layer(std::int64_t version, const GroupMember& member);
  // group retire: versions below `min_version` are refused from now on and their public keys
  // and layers deleted. Error(general) unless it raises the minimum and does not pass the
  // current version.
  void retire_group_versions(std::string_view group, std::int64_t min_version,
                             const std::string& retired);
  // The group's minimum decryption version; nullopt when it never retired one.
  std::optional<std::int64_t> group_min_version(std::string_view group);

  // ---- whole database (export.cpp) ----
  // Every row of every table, blobs in base64: {"format":"hsmctl-keystore","schema":N,
  // "tables":{"users":[{column: value, ...}, ...], ...}}. Round-trips exactly through import_all.
  // Reads inside one transaction (a consistent snapshot; writers wait meanwhile).
  nlohmann::json export_all();
  // Replaces the whole contents with an export of the same schema version, in one transaction.
  // A malformed document is Error(integrity) and changes nothing. Inside a caller's
  // Transaction, dangling references are only detected by the caller's commit().
  void import_all(const nlohmann::json& doc);

  // ---- state (state.cpp): what the transcript records of the keystore ----
  // Every security-relevant row is a state row: "user/NAME", "group/NAME" (with its members'
  // layers), "key/LABEL" (with its revocations) and "master" (with its share sets). Each write
  // above updates the digest of the rows it changes, in the same transaction.
  // The root over every state row (hex), after the changes made so far.
  std::string state_root();
  // The state rows changed since the last call, with their new digests ("" when deleted).
  std::map<std::string, std::string> take_changed_rows();
  // The digest (hex) of a state row as it is in the tables now; "" when it does not exist.
  std::string row_digest(std::string_view row_key);
  // True when the state row, as it is in the tables now, is the one a state with root `root`
  // holds (for a row that does not exist: that `root` holds none). Reads O(1) rows.
  bool row_in_state(std::string_view row_key, std::string_view root);
  // Recomputes every digest and the root from the tables (O(rows)) and stores them; returns
  // the root. computed_root() only computes it.
  std::string rebuild_state();
  std::string computed_root();
  // The root the transcript recorded last: from now on a write is made only when the rows of
  // its bucket, as they are, belong to that state (Error(integrity) otherwise), and state_root()
  // is that root with this connection's own changes on top.
  void expect_state(std::string root);
  // The key of every state row in the tables.
  std::vector<std::string> all_row_keys();

  // Only a benchmark turns the state off (bench/no_state.cpp, linked into hsmctl_nostate), to
  // measure what it costs: no derived tables, no digests, no checks, nothing recorded. A
  // keystore written so no longer matches its transcript.
  enum class StateUpkeep { on, off_for_benchmarks };
  static void set_state_upkeep(StateUpkeep upkeep) noexcept;
  static bool state_upkeep_on() noexcept;

  // The state's buckets, indexed directly in memory (flat bitsets and one slot per bucket
  // rather than trees: a provisioning run touches thousands of them per chunk).
  static constexpr std::uint32_t kStateBuckets = 4096;
  using BucketRows = std::vector<std::pair<std::string, Bytes>>;

 private:
  bool user_locked(std::string_view name);  // users.cpp
  void open_state();
  std::string flush_dirty();
  void flush_pending();  // flush_dirty() when a bucket is dirty, and move the expected root
  void on_commit();
  void on_rollback();
  std::string stored_root();
  void set_stored_root(const std::string& root);
  void touch(const std::string& row_key);
  // touch() of a state row that is one table's row, just inserted by an INSERT ... RETURNING *
  // statement stopped at that row (insert_returning): its digest from the returned columns,
  // without reading the row back. Used for new users.
  void touch_inserted(const std::string& row_key, std::string_view table, Statement& returned);
  void record_digest(const std::string& row_key, const std::string& digest);
  // touch_inserted's digest, not yet recorded.
  std::string inserted_digest(const std::string& row_key, std::string_view table,
                              Statement& returned);
  // record_digest of each (row key, non-empty digest): on PostgreSQL one statement, on SQLite
  // one statement run for each row in (bucket, row key) order.
  void record_digests(const std::vector<std::pair<std::string, std::string>>& digests);
  // In memory, what record_digest stored (bucket_rows_, the dirty and changed sets).
  void remember_digest(std::uint32_t bucket, const std::string& row_key,
                       const std::string& digest, const Bytes& digest_bytes);
  // Reads the stored rows of every bucket the keys fall in that is not read yet: on PostgreSQL
  // with one statement (stored_bucket_rows would read them one by one), on SQLite with one
  // statement run once per bucket.
  void load_buckets(const std::vector<std::string>& row_keys);
  void load_buckets(const std::bitset<kStateBuckets>& buckets);
  // The stored hashes of buckets (table state_buckets) or pages (state_pages): one statement
  // per row on SQLite, one for all on PostgreSQL.
  void store_hashes(bool pages,
                    const std::vector<std::pair<std::uint32_t, std::array<std::uint8_t, 32>>>& hashes);
  // `new_row`: the change inserts the row (its table's UNIQUE key refuses one that exists), so
  // only the stored digests are checked, not the row itself.
  void before_change(const std::string& row_key, bool new_row = false);
  bool bucket_in_state(std::uint32_t bucket, const std::string& extra_key, std::string_view root);
  // The hash of `bucket` from its stored digests, with `row_key`'s replaced by `digest` ("" for
  // none).
  std::array<std::uint8_t, 32> bucket_with_row(std::uint32_t bucket, const std::string& row_key,
                                               const std::string& digest);
  std::array<std::array<std::uint8_t, 32>, 64> stored_pages();
  // The stored bucket hashes of one page (empty buckets filled in).
  std::array<std::array<std::uint8_t, 32>, 64> stored_buckets(std::uint32_t page);
  // The stored (row key, digest) pairs of a bucket, in row-key order (bucket_rows_).
  const BucketRows& stored_bucket_rows(std::uint32_t bucket);
  std::array<std::uint8_t, 32> page_hash(
      std::uint32_t page,
      const std::optional<std::pair<std::uint32_t, std::array<std::uint8_t, 32>>>& replace);
  std::string root_over_pages(
      const std::optional<std::pair<std::uint32_t, std::array<std::uint8_t, 32>>>& replace);

  Database db_;
  std::bitset<kStateBuckets> dirty_buckets_;
  std::bitset<kStateBuckets> verified_buckets_;
  std::unordered_set<std::string> own_rows_;  // rows this connection wrote since expect_state
  // The stored (row key, digest) pairs of the buckets checked or changed since expect_state, in
  // row-key order, kept up to date by touch(): a flush hashes them without reading them back.
  // Empty until first used, then one slot per bucket.
  std::vector<std::optional<BucketRows>> bucket_rows_;
  // Stored page hashes, and bucket hashes of some pages, checked against expected_root_.
  std::optional<std::array<std::array<std::uint8_t, 32>, 64>> certified_pages_;
  std::map<std::uint32_t, std::array<std::array<std::uint8_t, 32>, 64>> certified_buckets_;
  std::optional<std::string> expected_root_;
  std::optional<std::string> committed_root_;  // expected_root_ as of the last commit
  bool rolled_back_ = false;
  std::map<std::string, std::string> changed_rows_;
};

}  // namespace hsm::keystore
