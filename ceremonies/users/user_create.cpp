// user create as a straight sequence: key pair escrowed at birth, password KEK, outer seal,
// then the keystore row and the transcript event in one transaction.
#include "ceremonies/users/user_create.h"

#include <fmt/format.h>
#include <sodium.h>

#include "ceremonies/groups/group_agreement.h"
#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

// The pair as session objects, the private key wrapped under MK-wrap, both destroyed.
EscrowedKey escrow_user_key(Workspace& ws, const p11::Session& s, const UserAlgorithm& alg,
                            p11::KeyHandle wrap) {
  try {
    return generate_escrowed(s, alg.key, wrap);
  } catch (const Error& e) {
    if (!p11::refused_as_not_wrappable(e)) throw;
    fail_not_wrappable(ws.module(), ws.token().label,
                       fmt::format("the new {} private key", alg.name), e,
                       fmt::format("a {} user key could not be escrowed under the master key; "
                                   "use another --algo (p256, p384, rsa3072)", alg.name));
  }
}

}  // namespace

void UserCreateOptions::validate() const {
  if (!valid_user_name(name))
    fail(Category::usage, fmt::format("user name '{}' must be 1-64 letters, digits, '.', '_', '-' "
                                      "or '@', not starting with '.', '-' or '@'", name));
  user_algorithm(algorithm);
  kdf::parse_kdf_profile(kdf_profile);
}

UserCreated user_create(Workspace& ws, const UserCreateOptions& o) {
  o.validate();
  const UserAlgorithm& alg = user_algorithm(o.algorithm);
  const kdf::KdfProfile profile = kdf::parse_kdf_profile(o.kdf_profile);
  UserCreated out;
  out.name = o.name;
  out.algorithm = o.algorithm;
  out.kdf_profile = o.kdf_profile;
  const nlohmann::json params{{"name", o.name}, {"algorithm", o.algorithm},
                              {"kdf_profile", o.kdf_profile}};
  // The password first: one that breaks a rule is refused before the token is touched.
  const Secret password =
      read_new_secret(o.password, fmt::format("password of user '{}'", o.name));
  check_new_password(password, o.name, o.min_password_length);
  run_ceremony(ws, "user.create", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    keystore::Keystore& ks = ws.keystore();
    if (ks.find_user(o.name))
      fail(Category::not_found, fmt::format("user '{}' already exists; choose another name",
                                            o.name));

    // 1. Escrow at birth: the token keeps nothing, the inner blob is all there is. The same for
    //    the user's key-agreement (ECDH P-256) key, to which group keys are sealed.
    EscrowedKey key = escrow_user_key(ws, s, alg, mk.wrap);
    EscrowedKey agreement = generate_agreement_key(s, mk.wrap);

    // 2. The password KEK, then the outer layer over the inner blob.
    keystore::UserRecord u;
    u.name = o.name;
    u.algorithm = o.algorithm;
    u.public_key = key.spki;
    u.secrets.key_version = 1;
    u.secrets.kdf = new_kdf(profile);
    {
      const p11::SessionObject kek = derive_user_kek(s, mk.derive, u.name, password, u.secrets.kdf);
      u.secrets.signing_key = seal_outer(s, kek, u.name, u.algorithm, 1, key.blob);
      u.secrets.ecdh_key = seal_agreement_key(s, kek, u.name, 1, agreement.blob);
    }
    u.ecdh_public_key = agreement.spki;
    sodium_memzero(key.blob.data(), key.blob.size());
    sodium_memzero(agreement.blob.data(), agreement.blob.size());
    u.created = transcript::utc_now_rfc3339();
    u.rotated = u.created;
    out.fingerprint = crypto::fingerprint(u.public_key);

    // 3. Remember and record together.
    keystore::Transaction tx(ks);
    ks.insert_user(u);
    out.seq = rec.record("user.created", {{"name", u.name},
                                          {"algorithm", u.algorithm},
                                          {"fingerprint", out.fingerprint},
                                          {"public_key", to_base64(u.public_key)},
                                          {"agreement_public_key", to_base64(agreement.spki)},
                                          {"key_version", u.secrets.key_version},
                                          {"escrow", "mk-wrap"},
                                          {"kdf", {{"profile", u.secrets.kdf.profile},
                                                   {"opslimit", u.secrets.kdf.opslimit},
                                                   {"memlimit", u.secrets.kdf.memlimit}}}});
    tx.commit();
  });
  return out;
}

}  // namespace hsm
