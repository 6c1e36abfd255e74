// Group key algorithms, new keys sealed to members, one member's opening of the key.
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/keystore_state.h"

#include <fmt/format.h>
#include <sodium.h>

#include "ceremonies/groups/group_agreement.h"
#include "core/crypto/algorithm_names.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/templates.h"

namespace hsm {

const UserAlgorithm& group_algorithm(std::string_view name) {
  const std::string_view stored = short_algorithm(name).value_or(name);  // either spelling
  if (stored != "p256" && stored != "p384" && stored != "rsa3072")
    fail(Category::usage, fmt::format("unknown group key algorithm '{}'; use ec-p256, ec-p384 or "
                                      "rsa-3072", name));
  return user_algorithm(stored);
}

bool is_encryption_group(const keystore::GroupRecord& g) {
  return g.algorithm == kAgreementAlgorithm;
}

void require_group_purpose(const keystore::GroupRecord& g, std::string_view purpose) {
  const bool encrypt = is_encryption_group(g);
  if (purpose == "sign" && encrypt)
    fail(Category::usage, fmt::format("group '{}' is an encryption group and cannot sign; use "
                                      "'hsmctl data decrypt' or 'hsmctl dek open' with it",
                                      g.name));
  if (purpose == "encrypt" && !encrypt)
    fail(Category::usage, fmt::format("group '{}' is a signing group and holds no encryption "
                                      "key; make one with 'hsmctl group create NAME --purpose "
                                      "encrypt --members ...'", g.name));
}

std::string verify_name(std::string_view a) {
  return a == "p384" ? "ec-p384" : a == "rsa3072" ? "rsa-3072" : "ec-p256";
}

keystore::GroupRecord require_group(keystore::Keystore& ks, const std::string& name) {
  auto g = ks.find_group(name);
  if (!g) fail(Category::not_found, fmt::format("group '{}' not found", name));
  return std::move(*g);
}

keystore::UserRecord require_member_candidate(keystore::Keystore& ks, const std::string& name) {
  auto u = ks.find_user(name);
  if (!u) fail(Category::not_found, fmt::format("user '{}' not found", name));
  if (!u->ecdh_public_key)
    fail(Category::general, fmt::format("user '{}' has no key-agreement key yet (users made by "
                                        "'user provision' or before group keys get one the first "
                                        "time they give their password, for example 'hsmctl "
                                        "user sign' or 'hsmctl user passwd {}'); then add them "
                                        "again", name, name));
  return std::move(*u);
}

std::vector<keystore::GroupMember> new_group_key(const p11::Session& s, const MasterKeys& mk,
                                                 keystore::GroupRecord& g,
                                                 const std::vector<keystore::UserRecord>& members,
                                                 const std::string& now) {
  EscrowedKey key = is_encryption_group(g)
                        ? generate_agreement_key(s, mk.wrap)
                        : generate_escrowed(s, group_algorithm(g.algorithm).key, mk.wrap);
  g.public_key = key.spki;
  std::vector<keystore::GroupMember> layers;
  try {
    for (const auto& u : members)
      layers.push_back(seal_group_layer(s, g, u.name, *u.ecdh_public_key, key.blob, now));
  } catch (...) {
    sodium_memzero(key.blob.data(), key.blob.size());
    throw;
  }
  sodium_memzero(key.blob.data(), key.blob.size());
  return layers;
}

void require_not_retired(keystore::Keystore& ks, const keystore::GroupRecord& g,
                         std::optional<std::int64_t> version) {
  if (!version) return;
  const auto min = ks.group_min_version(g.name);
  if (min && *version < *min)
    fail(Category::not_found, fmt::format("key version {} of group '{}' is retired (its minimum "
                                          "decryption version is {}); what was encrypted to it "
                                          "can no longer be decrypted", *version, g.name, *min));
}

namespace {

// The group's row as recorded, and `as`'s layer of its current key; a non-member is refused
// (group.access.refused, exit 3: no factor of theirs can open a key they have no layer of).
std::pair<keystore::GroupRecord, keystore::GroupMember> require_member(
    Recorder& rec, Workspace& ws, const std::string& group, const std::string& as) {
  keystore::Keystore& ks = ws.keystore();
  keystore::GroupRecord g = require_group(ks, group);
  if (!ks.find_user(as)) fail(Category::not_found, fmt::format("user '{}' not found", as));
  require_recorded_row(ws, rec.transcript(), "group/" + group, fmt::format("group '{}'", group));
  auto member = ks.find_group_member(group, as);
  if (!member) {
    rec.record("group.access.refused", {{"group", group}, {"as", as}, {"reason", "not a member"}});
    fail(Category::auth, fmt::format("user '{}' is not a member of group '{}' and cannot use its "
                                     "key; a member can add them with 'hsmctl group add {} {} "
                                     "--as MEMBER'", as, group, group, as));
  }
  return {std::move(g), std::move(*member)};
}

// `as`'s layer of key version `g` opened with the member's agreement key (the password was
// right: `u` is authenticated); a layer that does not open is recorded (group.layer.failed)
// and Error(integrity).
Secret open_layer_or_fail(Recorder& rec, const p11::Session& s, const MasterKeys& mk,
                          const keystore::GroupRecord& g, const keystore::GroupMember& layer,
                          const std::string& as, const UnlockedUser& u) {
  auto inner = open_group_layer(s, mk.wrap, g, layer, *u.user.ecdh_public_key, u.agreement);
  if (!inner) {
    rec.record("group.layer.failed", {{"group", g.name}, {"as", as},
                                      {"key_version", g.key_version}});
    fail(Category::integrity, fmt::format("the layer of user '{}' of key version {} of group "
                                          "'{}' does not open although the password is right: "
                                          "the keystore was changed", as, g.key_version, g.name));
  }
  return std::move(*inner);
}

}  // namespace

UnlockedGroup unlock_group_key(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                               const std::string& group, const std::string& as,
                               const UserFactors& factors, std::int64_t max_failures,
                               std::optional<std::int64_t> version) {
  keystore::Keystore& ks = ws.keystore();
  auto [g, member] = require_member(rec, ws, group, as);
  require_not_retired(ks, g, version);
  if (version && *version != g.key_version) {
    // An old version, kept for the data encrypted to it (encryption groups, after a removal).
    auto old = ks.find_old_group_key(group, *version);
    if (!old)
      fail(Category::integrity, fmt::format("group '{}' keeps no key version {} (its key is "
                                            "version {}): the file was changed", group, *version,
                                            g.key_version));
    auto old_layer = ks.find_old_group_layer(group, as, *version);
    if (!old_layer) {
      rec.record("group.access.refused", {{"group", group}, {"as", as},
                                          {"reason", "no layer of this key version"},
                                          {"key_version", *version}});
      fail(Category::auth, fmt::format("user '{}' has no layer of key version {} of group '{}' "
                                       "(they joined after it was replaced), so cannot open "
                                       "what was encrypted to it", as, *version, group));
    }
    g = std::move(*old);
    member = std::move(*old_layer);
  }
  const p11::Session& s = ws.login();
  UnlockedUser u = authenticate_user(rec, ws, mk, as, factors, max_failures);
  Secret inner = open_layer_or_fail(rec, s, mk, g, member, as, u);
  return {std::move(g), std::move(inner)};
}

static std::vector<UnlockedGroup> open_old_versions(Recorder& rec, Workspace& ws,
                                                    const MasterKeys& mk,
                                                    const keystore::GroupRecord& group,
                                                    const std::string& as,
                                                    const UnlockedUser& u) {
  keystore::Keystore& ks = ws.keystore();
  const p11::Session& s = ws.login();
  std::vector<UnlockedGroup> out;
  for (const std::int64_t v : ks.old_group_versions(group.name)) {
    const auto layer = ks.find_old_group_layer(group.name, as, v);
    if (!layer) continue;  // `as` joined after this version was replaced
    auto old = ks.find_old_group_key(group.name, v);
    if (!old) continue;
    Secret inner = open_layer_or_fail(rec, s, mk, *old, *layer, as, u);
    out.push_back({std::move(*old), std::move(inner)});
  }
  return out;
}

UnlockedVersions unlock_group_versions(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                       const std::string& group, const std::string& as,
                                       const UserFactors& factors, std::int64_t max_failures) {
  auto [g, member] = require_member(rec, ws, group, as);
  const p11::Session& s = ws.login();
  UnlockedUser u = authenticate_user(rec, ws, mk, as, factors, max_failures);
  Secret inner = open_layer_or_fail(rec, s, mk, g, member, as, u);
  UnlockedVersions r{{g, std::move(inner)}, {}};
  if (is_encryption_group(g)) r.old = open_old_versions(rec, ws, mk, g, as, u);
  return r;
}

Bytes sign_with_group_key(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g,
                          ByteView data) {
  const UserAlgorithm& alg = group_algorithm(g.group.algorithm);
  Bytes signature;
  {
    p11::Template t = p11::escrowed_session_private_key(alg.key, {alg.mechanism});
    const p11::SessionObject key(s, p11::unwrap_key(s, mk.wrap, g.inner.bytes(), t));
    signature = p11::sign(s, key.handle(), alg.mechanism, data);
  }
  if (alg.mechanism == p11::SignMechanism::ecdsa_sha256 ||
      alg.mechanism == p11::SignMechanism::ecdsa_sha384)
    signature = crypto::ecdsa_raw_to_der(signature);
  // A layer sealed to the member holds whatever its sealer put in it: check it is this group's.
  if (!crypto::verify_signature(g.group.public_key, verify_name(g.group.algorithm), data,
                                signature))
    fail(Category::integrity, fmt::format("the key in the layer of group '{}' does not match the "
                                          "group's public key: the keystore was changed",
                                          g.group.name));
  return signature;
}

}  // namespace hsm
