// user sign: authenticate, unwrap for one use, sign, record, write.
#include "ceremonies/user_sign.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/templates.h"

namespace hsm {

void UserSignOptions::validate() const {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  if (in.empty()) fail(Category::usage, "--in names no file to sign");
  if (out.empty()) fail(Category::usage, "--out names no signature file");
  if (!std::filesystem::is_regular_file(in))
    fail(Category::not_found, fmt::format("input file '{}' does not exist", in.string()));
  if (std::filesystem::exists(std::filesystem::symlink_status(out)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", out.string()));
  const auto dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    fail(Category::not_found, fmt::format("directory '{}' for --out does not exist", dir.string()));
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
    out.algorithm = u.user.algorithm;
    out.signature_alg = alg.signature;
    out.key_version = u.user.secrets.key_version;
    out.fingerprint = crypto::fingerprint(u.user.public_key);
    out.file_sha256 = to_hex(crypto::sha256(data));
    out.signature_sha256 = to_hex(crypto::sha256(signature));
    out.seq = rec.record_output("user.signed", {{"name", o.name},
                                                {"algorithm", out.algorithm},
                                                {"signature_alg", out.signature_alg},
                                                {"key_version", out.key_version},
                                                {"fingerprint", out.fingerprint},
                                                {"file", o.in.string()},
                                                {"file_size", data.size()},
                                                {"file_sha256", out.file_sha256},
                                                {"signature_sha256", out.signature_sha256},
                                                {"out", o.out.string()}},
                                                o.out, signature, 0644);
  });
  return out;
}

}  // namespace hsm
