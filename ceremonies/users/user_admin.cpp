// user list | show | export-public | delete | unlock.
#include "ceremonies/users/user_admin.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm {

namespace {

UserSummary summary(const keystore::UserRecord& u) {
  UserSummary s;
  s.name = u.name;
  s.algorithm = u.algorithm;
  s.fingerprint = crypto::fingerprint(u.public_key);
  s.kdf_profile = u.secrets.kdf.profile;
  s.created = u.created;
  s.rotated = u.rotated;
  s.key_version = u.secrets.key_version;
  s.failures = u.failures;
  s.otp_enrolled = u.otp.enrolled;
  s.locked = u.locked;
  return s;
}

keystore::UserRecord find(Workspace& ws, const std::string& name) {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  auto u = ws.keystore().find_user(name);
  if (!u) fail(Category::not_found, fmt::format("user '{}' not found", name));
  return std::move(*u);
}

}  // namespace

std::vector<UserSummary> user_list(Workspace& ws) {
  std::vector<UserSummary> out;
  for (const auto& u : ws.keystore().list_users()) out.push_back(summary(u));
  return out;
}

UserSummary user_show(Workspace& ws, const std::string& name) { return summary(find(ws, name)); }

std::string user_public_pem(Workspace& ws, const std::string& name) {
  return crypto::spki_pem(find(ws, name).public_key);
}

void user_delete(Workspace& ws, const std::string& name) {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  run_ceremony(ws, "user.delete", {{"name", name}}, [&](Recorder& rec) {
    const keystore::UserRecord u = find(ws, name);
    keystore::Keystore& ks = ws.keystore();
    keystore::Transaction tx(ks);
    ks.delete_user(name);
    rec.record("user.deleted", {{"name", name},
                                {"algorithm", u.algorithm},
                                {"fingerprint", crypto::fingerprint(u.public_key)},
                                {"key_version", u.secrets.key_version}});
    tx.commit();
  });
}

std::int64_t user_unlock(Workspace& ws, const std::string& name) {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  std::int64_t cleared = 0;
  run_ceremony(ws, "user.unlock", {{"name", name}}, [&](Recorder& rec) {
    const keystore::UserRecord u = find(ws, name);
    keystore::Keystore& ks = ws.keystore();
    keystore::Transaction tx(ks);
    ks.set_locked(name, false);
    rec.record("user.unlocked", {{"name", name}, {"was_locked", u.locked},
                                 {"failures_cleared", u.failures}});
    tx.commit();
    cleared = u.failures;
  });
  return cleared;
}

}  // namespace hsm
