// user sign: authenticate, unwrap for one use, sign, record, write.
#include "ceremonies/users/user_sign.h"

#include <fmt/format.h>

#include "ceremonies/keys/file_signature.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/templates.h"

namespace hsm {

void UserSignOptions::validate() const {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  check_sign_files(in, out);
}

UserSignature user_sign(Workspace& ws, const UserSignOptions& o) {
  o.validate();
  UserSignature out;
  out.name = o.name;
  const nlohmann::json params{{"name", o.name}, {"in", o.in.string()}, {"out", o.out.string()}};
  run_ceremony(ws, "user.sign", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);

    // 1. The user's factors open the outer layer.
    const UnlockedUser u = authenticate_user(rec, ws, mk, o.name, o.factors, o.max_auth_failures);
    const UserAlgorithm& alg = user_algorithm(u.user.algorithm);

    // 2. The inner blob becomes a session key for one signature: sensitive, non-extractable,
    //    this one mechanism, destroyed when `key` goes out of scope.
    const Bytes data = read_file(o.in, "input file");
    Bytes signature;
    {
      p11::Template t = p11::escrowed_session_private_key(alg.key, {alg.mechanism});
      const p11::SessionObject key(s, p11::unwrap_key(s, mk.wrap, u.inner.bytes(), t));
      signature = p11::sign(s, key.handle(), alg.mechanism, data);
    }
    if (alg.mechanism == p11::SignMechanism::ecdsa_sha256 ||
        alg.mechanism == p11::SignMechanism::ecdsa_sha384)
      signature = crypto::ecdsa_raw_to_der(signature);

    // 3. Recorded before the file exists: a signature not in the transcript is not hsmctl's.
    static_cast<FileSignature&>(out) =
        record_file_signature(rec, "user.signed", {{"name", o.name}}, u.user.algorithm,
                              alg.signature, u.user.secrets.key_version, u.user.public_key, o.in,
                              data, o.out, signature);
  });
  return out;
}

}  // namespace hsm
