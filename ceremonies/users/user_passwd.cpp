// user passwd: open with the old factors, re-seal under the new password, one transaction.
#include "ceremonies/users/user_passwd.h"

#include <fmt/format.h>

#include "ceremonies/groups/group_agreement.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"
#include "core/transcript/entry.h"

namespace hsm {

void UserPasswdOptions::validate() const {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  if (!kdf_profile.empty()) kdf::parse_kdf_profile(kdf_profile);
}

UserPasswdResult user_passwd(Workspace& ws, const UserPasswdOptions& o) {
  o.validate();
  UserPasswdResult out;
  run_ceremony(ws, "user.passwd", {{"name", o.name}}, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    const UnlockedUser u = authenticate_user(rec, ws, mk, o.name, o.factors, o.max_auth_failures);
    const kdf::KdfProfile profile =
        kdf::parse_kdf_profile(o.kdf_profile.empty() ? u.user.secrets.kdf.profile : o.kdf_profile);
    const Secret password =
        read_new_secret(o.new_password, fmt::format("new password of user '{}'", o.name));
    check_new_password(password, o.name, o.min_password_length);

    keystore::UserSecrets next;
    next.key_version = u.user.secrets.key_version + 1;
    next.kdf = new_kdf(profile);
    {
      const p11::SessionObject kek = derive_user_kek(s, mk.derive, o.name, password, next.kdf);
      next.signing_key =
          seal_outer(s, kek, o.name, u.user.algorithm, next.key_version, u.inner.bytes());
      next.ecdh_key =
          seal_agreement_key(s, kek, o.name, next.key_version, u.agreement.bytes());
    }

    keystore::Keystore& ks = ws.keystore();
    keystore::Transaction tx(ks);
    ks.update_user_secrets(o.name, next, transcript::utc_now_rfc3339());
    rec.record("user.password-changed", {{"name", o.name},
                                         {"key_version", next.key_version},
                                         {"kdf", {{"profile", next.kdf.profile},
                                                  {"opslimit", next.kdf.opslimit},
                                                  {"memlimit", next.kdf.memlimit}}}});
    tx.commit();
    out.key_version = next.key_version;
    out.kdf_profile = next.kdf.profile;
  });
  return out;
}

}  // namespace hsm
