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

    // 2. The inner blob becomes a session key for one signature.
    const Bytes data = read_file(o.in, "input file");
    const Bytes signature = sign_as_user(s, mk, u, data, SignedForm::data);

    // 3. Recorded before the file exists: a signature not in the transcript is not hsmctl's.
    static_cast<FileSignature&>(out) =
        record_file_signature(rec, "user.signed", {{"name", o.name}}, u.user.algorithm,
                              alg.signature, u.user.secrets.key_version, u.user.public_key, o.in,
                              data, o.out, signature);
  });
  return out;
}

Bytes sign_as_user(const p11::Session& s, const MasterKeys& mk, const UnlockedUser& u,
                   ByteView input, SignedForm form) {
  const UserAlgorithm& alg = user_algorithm(u.user.algorithm);
  if (form == SignedForm::digest) {
    const std::string_view hash = user_digest_alg(u.user.algorithm);
    if (hash.empty())
      fail(Category::usage, fmt::format("user '{}' has a {} key, which signs data, not a digest",
                                        u.user.name, alg.signature));
    const std::size_t want = hash == "sha384" ? 48 : 32;
    if (input.size() != want)
      fail(Category::usage, fmt::format("a {} digest is {} bytes, not {}", hash, want,
                                        input.size()));
  }
  Bytes signature;
  {
    p11::Template t = p11::escrowed_session_private_key(alg.key, {alg.mechanism});
    const p11::SessionObject key(s, p11::unwrap_key(s, mk.wrap, u.inner.bytes(), t));
    signature = form == SignedForm::digest ? p11::sign_digest(s, key.handle(), alg.mechanism, input)
                                           : p11::sign(s, key.handle(), alg.mechanism, input);
  }
  if (alg.mechanism == p11::SignMechanism::ecdsa_sha256 ||
      alg.mechanism == p11::SignMechanism::ecdsa_sha384)
    signature = crypto::ecdsa_raw_to_der(signature);
  return signature;
}

std::string_view user_digest_alg(const std::string& algorithm) {
  switch (user_algorithm(algorithm).mechanism) {
    case p11::SignMechanism::ecdsa_sha256: return "sha256";
    case p11::SignMechanism::ecdsa_sha384: return "sha384";
    default: return "";
  }
}

}  // namespace hsm
