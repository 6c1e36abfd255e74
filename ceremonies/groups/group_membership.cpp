// group create, add, remove (with rotation), each a straight sequence ending in one keystore
// transaction that also holds its transcript events.
#include "ceremonies/groups/group_membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "ceremonies/data/dek_unwrap.h"
#include "ceremonies/groups/group_agreement.h"
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/recorder.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

void check_names(const std::string& group, const std::vector<std::string>& users) {
  if (!valid_user_name(group))
    fail(Category::usage, fmt::format("group name '{}' must be 1-64 letters, digits, '.', '_', "
                                      "'-' or '@', not starting with '.', '-' or '@'", group));
  for (const auto& u : users)
    if (!valid_user_name(u)) fail(Category::usage, fmt::format("'{}' is not a user name", u));
}

std::vector<std::string> names_of(const std::vector<keystore::GroupMember>& layers) {
  std::vector<std::string> out;
  for (const auto& m : layers) out.push_back(m.user);
  std::sort(out.begin(), out.end());
  return out;
}

// `seq`: the transcript entry that made this state of the group.
GroupResult result_of(const keystore::GroupRecord& g, std::vector<std::string> members,
                      std::uint64_t seq) {
  return {g.name, g.algorithm, crypto::fingerprint(g.public_key), g.key_version,
          std::move(members), seq, {}, 0};
}

}  // namespace

GroupResult make_group(Recorder& rec, keystore::Keystore& ks, const p11::Session& s,
                       const MasterKeys& mk, const std::string& name, const std::string& algorithm,
                       const std::vector<keystore::UserRecord>& members) {
  // A new key, escrowed at birth, sealed to each member's public key: no password needed.
  keystore::GroupRecord g{.name = name, .algorithm = algorithm, .public_key = {},
                          .key_version = 1, .created = transcript::utc_now_rfc3339()};
  const auto layers = new_group_key(s, mk, g, members, g.created);

  keystore::Transaction tx(ks);
  ks.insert_group(g, layers);
  const std::uint64_t seq =
      rec.record("group.created", {{"name", g.name},
                                   {"algorithm", g.algorithm},
                                   {"fingerprint", crypto::fingerprint(g.public_key)},
                                   {"public_key", to_base64(g.public_key)},
                                   {"key_version", g.key_version},
                                   {"escrow", "member-layers"},
                                   {"members", names_of(layers)}});
  GroupResult r = result_of(g, names_of(layers), seq);
  tx.commit();
  return r;
}

void GroupCreateOptions::validate() const {
  check_names(name, members);
  if (members.empty()) fail(Category::usage, "a group needs at least one member (--members a,b)");
  if (std::set<std::string>(members.begin(), members.end()).size() != members.size())
    fail(Category::usage, "--members names a user more than once");
  if (purpose != "sign" && purpose != "encrypt")
    fail(Category::usage, fmt::format("unknown group purpose '{}'; use sign or encrypt", purpose));
  const UserAlgorithm& alg = group_algorithm(algorithm);
  if (purpose == "encrypt" && alg.key != p11::KeyAlgorithm::ec_p256)
    fail(Category::usage, "an encryption group's key is always ECDH P-256: drop --algo");
}

void GroupAddOptions::validate() const {
  check_names(group, {user, as});
  if (as.empty()) fail(Category::usage, "--as names no member to open the group key");
}

void GroupRemoveOptions::validate() const { check_names(group, {user}); }

void GroupRetireOptions::validate() const {
  check_names(group, {as});
  if (below < 2)
    fail(Category::usage, fmt::format("--below {} retires nothing: key versions start at 1",
                                      below));
}

GroupResult group_retire(Workspace& ws, const GroupRetireOptions& o) {
  o.validate();
  const nlohmann::json params{{"group", o.group}, {"below", o.below}, {"as", o.as}};
  return run_ceremony(ws, "group.retire", params, [&](Recorder& rec) {
    const MasterKeys mk = require_master(ws.login());
    keystore::Keystore& ks = ws.keystore();
    const keystore::GroupRecord g = require_group(ks, o.group);
    require_group_purpose(g, "encrypt");
    if (o.below > g.key_version)
      fail(Category::usage, fmt::format("--below {} would retire the current key version {} of "
                                        "group '{}'; rotate first (group remove) or choose {} or "
                                        "less", o.below, g.key_version, o.group, g.key_version));
    const auto min = ks.group_min_version(o.group);
    if (min && o.below <= *min)
      fail(Category::usage, fmt::format("group '{}' already refuses key versions below {}; "
                                        "--below must be higher", o.group, *min));
    // A member's own factors: retiring is irreversible (the old layers are deleted), so it
    // takes someone who can read the data, as adding a member does.
    const UnlockedGroup u =
        unlock_group_key(rec, ws, mk, o.group, o.as, o.factors, o.max_auth_failures);
    check_encryption_key(ws.login(), mk, u);
    const std::vector<std::int64_t> kept = ks.old_group_versions(o.group);
    std::vector<std::int64_t> deleted;
    for (const std::int64_t v : kept)
      if (v < o.below) deleted.push_back(v);

    keystore::Transaction tx(ks);
    ks.retire_group_versions(o.group, o.below, transcript::utc_now_rfc3339());
    const std::uint64_t seq = rec.record("group.retired", {{"group", o.group},
                                                           {"by", o.as},
                                                           {"min_version", o.below},
                                                           {"deleted_versions", deleted},
                                                           {"key_version", g.key_version}});
    GroupResult r = result_of(g, names_of(ks.list_group_members(o.group)), seq);
    r.min_version = o.below;
    r.old_versions = deleted;
    tx.commit();
    return r;
  });
}

GroupResult group_create(Workspace& ws, const GroupCreateOptions& o) {
  o.validate();
  const std::string algorithm = o.purpose == "encrypt" ? kAgreementAlgorithm : o.algorithm;
  const nlohmann::json params{{"name", o.name}, {"members", o.members},
                              {"algorithm", algorithm}};
  return run_ceremony(ws, "group.create", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    keystore::Keystore& ks = ws.keystore();
    if (ks.find_group(o.name))
      fail(Category::not_found, fmt::format("group '{}' already exists; choose another name",
                                            o.name));
    std::vector<keystore::UserRecord> users;
    for (const auto& m : o.members) users.push_back(require_member_candidate(ks, m));

    return make_group(rec, ks, s, mk, o.name, algorithm, users);
  });
}

GroupResult group_add(Workspace& ws, const GroupAddOptions& o) {
  o.validate();
  const nlohmann::json params{{"group", o.group}, {"user", o.user}, {"as", o.as}};
  return run_ceremony(ws, "group.add", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    keystore::Keystore& ks = ws.keystore();
    require_group(ks, o.group);
    const keystore::UserRecord user = require_member_candidate(ks, o.user);
    if (ks.find_group_member(o.group, o.user))
      fail(Category::not_found, fmt::format("user '{}' is already a member of group '{}'", o.user,
                                            o.group));

    // 1. One member opens the key with their own factors (nobody else's password is needed);
    //    for an encryption group also every kept old version that member holds a layer of.
    const UnlockedVersions all =
        unlock_group_versions(rec, ws, mk, o.group, o.as, o.factors, o.max_auth_failures);
    const UnlockedGroup& g = all.current;
    // 2. Check each key is the group's before handing it on, then seal it to the new member.
    if (is_encryption_group(g.group))
      check_encryption_key(s, mk, g);
    else
      sign_with_group_key(s, mk, g, to_bytes("hsmctl v1 group key check"));
    const std::string now = transcript::utc_now_rfc3339();
    const keystore::GroupMember layer =
        seal_group_layer(s, g.group, o.user, *user.ecdh_public_key, g.inner.bytes(), now);
    std::vector<std::pair<std::int64_t, keystore::GroupMember>> old_layers;
    for (const UnlockedGroup& v : all.old) {
      check_encryption_key(s, mk, v);
      old_layers.emplace_back(v.group.key_version,
                              seal_group_layer(s, v.group, o.user, *user.ecdh_public_key,
                                               v.inner.bytes(), now));
    }

    keystore::Transaction tx(ks);
    ks.add_group_member(layer);
    std::vector<std::int64_t> old_versions;
    for (const auto& [version, l] : old_layers) {
      ks.add_old_group_layer(version, l);
      old_versions.push_back(version);
    }
    nlohmann::json event{{"group", o.group},
                         {"user", o.user},
                         {"by", o.as},
                         {"key_version", g.group.key_version},
                         {"fingerprint", crypto::fingerprint(g.group.public_key)}};
    // Only when there are any, so the entries of signing groups are what they were.
    if (!old_versions.empty()) event["old_versions"] = old_versions;
    const std::uint64_t seq = rec.record("group.member-added", event);
    GroupResult r = result_of(g.group, names_of(ks.list_group_members(o.group)), seq);
    r.old_versions = old_versions;
    tx.commit();
    return r;
  });
}

GroupResult group_remove(Workspace& ws, const GroupRemoveOptions& o) {
  o.validate();
  const nlohmann::json params{{"group", o.group}, {"user", o.user}};
  return run_ceremony(ws, "group.remove", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    keystore::Keystore& ks = ws.keystore();
    const keystore::GroupRecord old = require_group(ks, o.group);
    if (!ks.find_group_member(o.group, o.user))
      fail(Category::not_found, fmt::format("user '{}' is not a member of group '{}'", o.user,
                                            o.group));
    std::vector<keystore::UserRecord> remaining;
    for (const auto& m : ks.list_group_members(o.group))
      if (m.user != o.user) remaining.push_back(require_member_candidate(ks, m.user));
    if (remaining.empty())
      fail(Category::general, fmt::format("user '{}' is the last member of group '{}'; a group "
                                          "key nobody can open cannot be kept", o.user, o.group));

    // Rotation: a new pair sealed to the remaining members; the old key's only copies were the
    // old layers, which the transaction below deletes (secure_delete overwrites them).
    keystore::GroupRecord next = old;
    next.key_version = old.key_version + 1;
    const std::string now = transcript::utc_now_rfc3339();
    const auto layers = new_group_key(s, mk, next, remaining, now);

    keystore::Transaction tx(ks);
    // An encryption group keeps the old version for the data encrypted to it: its public key
    // and the remaining members' layers (the removed member's layers of every version go).
    if (is_encryption_group(old)) ks.keep_group_version(o.group, o.user, now);
    ks.replace_group_key(next, layers);
    rec.record("group.member-removed", {{"group", o.group}, {"user", o.user}});
    const std::uint64_t seq =
        rec.record("group.rotated", {{"group", o.group},
                                     {"reason", "member removed"},
                                     {"old_fingerprint", crypto::fingerprint(old.public_key)},
                                     {"fingerprint", crypto::fingerprint(next.public_key)},
                                     {"public_key", to_base64(next.public_key)},
                                     {"key_version", next.key_version},
                                     {"members", names_of(layers)}});
    GroupResult r = result_of(next, names_of(layers), seq);
    tx.commit();
    return r;
  });
}

}  // namespace hsm
