// Group-key records (tables groups and group_members): the group's public key and one sealed
// layer per member. Never the group's private key, its bare inner blob or a member's KEK.
#include "core/error.h"
#include "core/keystore/keystore.h"

namespace hsm::keystore {

namespace {

[[noreturn]] void no_group(std::string_view name) {
  fail(Category::not_found, "group '" + std::string(name) + "' not found");
}

bool group_exists(Database& db, std::string_view name) {
  Statement st(db, "SELECT 1 FROM groups WHERE name = :name");
  st.bind(":name", name);
  return st.step();
}

void insert_member(Database& db, std::string_view group, const GroupMember& m) {
  Statement st(db,
               "INSERT INTO group_members (group_id, user_id, sealed_key, nonce, "
               "ephemeral_public_key, added) SELECT g.id, u.id, :sealed_key, :nonce, "
               ":ephemeral_public_key, :added FROM groups g, users u "
               "WHERE g.name = :group AND u.name = :user");
  st.bind(":sealed_key", m.sealed_key.ciphertext)
      .bind(":nonce", m.sealed_key.nonce)
      .bind(":ephemeral_public_key", m.ephemeral_public_key)
      .bind(":added", m.added)
      .bind(":group", group)
      .bind(":user", m.user)
      .insert("user '" + m.user + "' is already a member of group '" + std::string(group) + "'");
  if (st.changes() > 0) return;
  if (!group_exists(db, group)) no_group(group);
  fail(Category::not_found, "user '" + m.user + "' not found");
}

// Members with their group and user names (both are SQL keywords or ids in the table).
constexpr const char* kMembers =
    "SELECT g.name AS group_name, u.name AS user_name, m.* FROM group_members m "
    "JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id ";

GroupMember read_member(const Statement& st) {
  return {
      .group = st.text("group_name"),
      .user = st.text("user_name"),
      .sealed_key = {.ciphertext = st.blob("sealed_key"), .nonce = st.blob("nonce")},
      .ephemeral_public_key = st.blob("ephemeral_public_key"),
      .added = st.text("added"),
  };
}

GroupRecord read_group(const Statement& st) {
  return {
      .name = st.text("name"),
      .algorithm = st.text("algorithm"),
      .public_key = st.blob("public_key"),
      .key_version = st.integer("key_version"),
      .created = st.text("created"),
  };
}

}  // namespace

void Keystore::insert_group(const GroupRecord& group, const std::vector<GroupMember>& members) {
  Transaction tx(db_);
  before_change("group/" + group.name);
  Statement st(db_,
               "INSERT INTO groups (name, algorithm, public_key, key_version, created) "
               "VALUES (:name, :algorithm, :public_key, :key_version, :created)");
  st.bind(":name", group.name)
      .bind(":algorithm", group.algorithm)
      .bind(":public_key", group.public_key)
      .bind(":key_version", group.key_version)
      .bind(":created", group.created)
      .insert("group '" + group.name + "' already exists");
  for (const auto& m : members) insert_member(db_, group.name, m);
  touch("group/" + group.name);
  tx.commit();
}

std::optional<GroupRecord> Keystore::find_group(std::string_view name) {
  Statement st(db_, "SELECT * FROM groups WHERE name = :name");
  st.bind(":name", name);
  if (!st.step()) return std::nullopt;
  return read_group(st);
}

std::vector<GroupRecord> Keystore::list_groups() {
  Statement st(db_, "SELECT * FROM groups ORDER BY name");
  std::vector<GroupRecord> groups;
  while (st.step()) groups.push_back(read_group(st));
  return groups;
}

void Keystore::delete_group(std::string_view name) {
  Transaction tx(db_);
  before_change("group/" + std::string(name));
  Statement st(db_, "DELETE FROM groups WHERE name = :name");  // members go with it (CASCADE)
  st.bind(":name", name).run();
  if (st.changes() == 0) no_group(name);
  touch("group/" + std::string(name));
  tx.commit();
}

void Keystore::add_group_member(const GroupMember& member) {
  Transaction tx(db_);
  before_change("group/" + member.group);
  insert_member(db_, member.group, member);
  touch("group/" + member.group);
  tx.commit();
}

void Keystore::remove_group_member(std::string_view group, std::string_view user) {
  Transaction tx(db_);
  before_change("group/" + std::string(group));
  Statement st(db_,
               "DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE name = "
               ":group) AND user_id = (SELECT id FROM users WHERE name = :user)");
  st.bind(":group", group).bind(":user", user).run();
  if (st.changes() > 0) {
    touch("group/" + std::string(group));
    tx.commit();
    return;
  }
  if (!group_exists(db_, group)) no_group(group);
  fail(Category::not_found, "user '" + std::string(user) + "' is not a member of group '" +
                                std::string(group) + "'");
}

std::optional<GroupMember> Keystore::find_group_member(std::string_view group,
                                                       std::string_view user) {
  Statement st(db_, std::string(kMembers) + "WHERE g.name = :group AND u.name = :user");
  st.bind(":group", group).bind(":user", user);
  if (!st.step()) return std::nullopt;
  return read_member(st);
}

std::vector<GroupMember> Keystore::list_group_members(std::string_view group) {
  if (!group_exists(db_, group)) no_group(group);
  Statement st(db_, std::string(kMembers) + "WHERE g.name = :group ORDER BY u.name");
  st.bind(":group", group);
  std::vector<GroupMember> members;
  while (st.step()) members.push_back(read_member(st));
  return members;
}

std::vector<std::string> Keystore::groups_of(std::string_view user) {
  Statement st(db_, std::string(kMembers) + "WHERE u.name = :user ORDER BY g.name");
  st.bind(":user", user);
  std::vector<std::string> names;
  while (st.step()) names.push_back(st.text("group_name"));
  return names;
}

void Keystore::set_agreement_key(std::string_view user, const Bytes& public_key,
                                 const SealedBlob& sealed) {
  Transaction tx(db_);
  before_change("user/" + std::string(user));
  Statement st(db_,
               "UPDATE users SET ecdh_public_key = :public_key, ecdh_outer_blob = :blob, "
               "ecdh_outer_nonce = :nonce WHERE name = :name AND ecdh_public_key IS NULL");
  st.bind(":public_key", public_key)
      .bind(":blob", sealed.ciphertext)
      .bind(":nonce", sealed.nonce)
      .bind(":name", user)
      .run();
  if (st.changes() > 0) {
    touch("user/" + std::string(user));
    tx.commit();
    return;
  }
  if (!find_user(user)) fail(Category::not_found, "user '" + std::string(user) + "' not found");
  fail(Category::general, "user '" + std::string(user) + "' already has a key-agreement key");
}

void Keystore::replace_group_key(const GroupRecord& group,
                                 const std::vector<GroupMember>& members) {
  Transaction tx(db_);
  before_change("group/" + group.name);
  // The key version is bound into every member's sealed copy, so it must only ever grow.
  Statement st(db_,
               "UPDATE groups SET algorithm = :algorithm, public_key = :public_key, "
               "key_version = :key_version "
               "WHERE name = :name AND key_version < :key_version");
  st.bind(":algorithm", group.algorithm)
      .bind(":public_key", group.public_key)
      .bind(":key_version", group.key_version)
      .bind(":name", group.name)
      .run();
  if (st.changes() == 0) {
    if (!group_exists(db_, group.name)) no_group(group.name);
    fail(Category::general, "internal error: the new key of group '" + group.name +
                                "' must have a higher key version than the current one");
  }
  Statement clear(db_,
                  "DELETE FROM group_members WHERE group_id = "
                  "(SELECT id FROM groups WHERE name = :name)");
  clear.bind(":name", group.name).run();
  for (const auto& m : members) insert_member(db_, group.name, m);
  touch("group/" + group.name);
  tx.commit();
}

void Keystore::keep_group_version(std::string_view group, std::string_view removed,
                                  const std::string& retired) {
  Transaction tx(db_);
  before_change("group/" + std::string(group));
  Statement key(db_,
                "INSERT INTO group_old_keys (group_id, key_version, public_key, retired) "
                "SELECT id, key_version, public_key, :retired FROM groups WHERE name = :group");
  key.bind(":retired", retired).bind(":group", group).run();
  if (key.changes() == 0) no_group(group);
  Statement layers(db_,
                   "INSERT INTO group_old_layers (group_id, key_version, user_id, sealed_key, "
                   "nonce, ephemeral_public_key, added) SELECT m.group_id, g.key_version, "
                   "m.user_id, m.sealed_key, m.nonce, m.ephemeral_public_key, m.added "
                   "FROM group_members m JOIN groups g ON g.id = m.group_id "
                   "JOIN users u ON u.id = m.user_id WHERE g.name = :group AND u.name != :removed");
  layers.bind(":group", group).bind(":removed", removed).run();
  Statement drop(db_,
                 "DELETE FROM group_old_layers WHERE group_id = (SELECT id FROM groups WHERE "
                 "name = :group) AND user_id = (SELECT id FROM users WHERE name = :removed)");
  drop.bind(":group", group).bind(":removed", removed).run();
  touch("group/" + std::string(group));
  tx.commit();
}

std::optional<GroupRecord> Keystore::find_old_group_key(std::string_view group,
                                                        std::int64_t version) {
  Statement st(db_, "SELECT g.name, g.algorithm, k.public_key, k.key_version, k.retired "
                    "FROM group_old_keys k JOIN groups g ON g.id = k.group_id "
                    "WHERE g.name = :group AND k.key_version = :version");
  st.bind(":group", group).bind(":version", version);
  if (!st.step()) return std::nullopt;
  return GroupRecord{.name = st.text("name"),
                     .algorithm = st.text("algorithm"),
                     .public_key = st.blob("public_key"),
                     .key_version = st.integer("key_version"),
                     .created = st.text("retired")};
}

std::optional<GroupMember> Keystore::find_old_group_layer(std::string_view group,
                                                          std::string_view user,
                                                          std::int64_t version) {
  Statement st(db_, "SELECT g.name AS group_name, u.name AS user_name, l.* FROM "
                    "group_old_layers l JOIN groups g ON g.id = l.group_id JOIN users u ON "
                    "u.id = l.user_id WHERE g.name = :group AND u.name = :user AND "
                    "l.key_version = :version");
  st.bind(":group", group).bind(":user", user).bind(":version", version);
  if (!st.step()) return std::nullopt;
  return read_member(st);
}

std::vector<std::int64_t> Keystore::old_group_versions(std::string_view group) {
  Statement st(db_, "SELECT k.key_version FROM group_old_keys k JOIN groups g ON "
                    "g.id = k.group_id WHERE g.name = :group ORDER BY k.key_version");
  st.bind(":group", group);
  std::vector<std::int64_t> out;
  while (st.step()) out.push_back(st.integer_at(0));
  return out;
}

void Keystore::add_old_group_layer(std::int64_t version, const GroupMember& m) {
  Transaction tx(db_);
  before_change("group/" + m.group);
  Statement st(db_,
               "INSERT INTO group_old_layers (group_id, key_version, user_id, sealed_key, nonce, "
               "ephemeral_public_key, added) SELECT k.group_id, k.key_version, u.id, "
               ":sealed_key, :nonce, :ephemeral_public_key, :added FROM group_old_keys k "
               "JOIN groups g ON g.id = k.group_id, users u WHERE g.name = :group AND "
               "k.key_version = :version AND u.name = :user");
  st.bind(":sealed_key", m.sealed_key.ciphertext)
      .bind(":nonce", m.sealed_key.nonce)
      .bind(":ephemeral_public_key", m.ephemeral_public_key)
      .bind(":added", m.added)
      .bind(":group", m.group)
      .bind(":version", version)
      .bind(":user", m.user)
      .insert("user '" + m.user + "' already has a layer of key version " +
              std::to_string(version) + " of group '" + m.group + "'");
  if (st.changes() == 0)
    fail(Category::not_found, "group '" + m.group + "' keeps no key version " +
                                  std::to_string(version) + " (or user '" + m.user +
                                  "' does not exist)");
  touch("group/" + m.group);
  tx.commit();
}

void Keystore::retire_group_versions(std::string_view group, std::int64_t min_version,
                                     const std::string& retired) {
  Transaction tx(db_);
  const std::string row = "group/" + std::string(group);
  before_change(row);
  const auto g = find_group(group);
  if (!g) no_group(group);
  const auto current = group_min_version(group);
  if (min_version > g->key_version || (current && min_version <= *current))
    fail(Category::general, "internal error: the minimum decryption version of group '" +
                                std::string(group) + "' must grow and not pass the current one");
  Statement set(db_,
                "INSERT INTO group_min_versions (group_id, min_version, retired) SELECT id, "
                ":min, :retired FROM groups WHERE name = :group ON CONFLICT (group_id) DO "
                "UPDATE SET min_version = excluded.min_version, retired = excluded.retired");
  set.bind(":min", min_version).bind(":retired", retired).bind(":group", group).run();
  // The layers go with their keys (ON DELETE CASCADE); secure_delete overwrites them.
  Statement drop(db_,
                 "DELETE FROM group_old_keys WHERE group_id = (SELECT id FROM groups WHERE "
                 "name = :group) AND key_version < :min");
  drop.bind(":group", group).bind(":min", min_version).run();
  touch(row);
  tx.commit();
}

std::optional<std::int64_t> Keystore::group_min_version(std::string_view group) {
  Statement st(db_, "SELECT v.min_version FROM group_min_versions v JOIN groups g ON "
                    "g.id = v.group_id WHERE g.name = :group");
  st.bind(":group", group);
  if (!st.step()) return std::nullopt;
  return st.integer_at(0);
}

}  // namespace hsm::keystore
