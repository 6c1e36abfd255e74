// The service's signatures: one request's steps inside the ceremony of its batch (group_commit.h),
// the same steps as `user sign` and `group sign`.
#include "ceremonies/service/service_sign.h"

#include <fmt/format.h>

#include "ceremonies/groups/group_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/kdf/argon2id.h"
#include "core/keystore/keystore.h"

namespace hsm {

void ServiceSignRequest::validate() const {
  if (!valid_user_name(name)) fail(Category::usage, fmt::format("'{}' is not a user name", name));
  if (form == SignedForm::data && input.empty()) fail(Category::usage, "\"data\" is empty");
  if (form == SignedForm::digest && digest_alg != "sha256" && digest_alg != "sha384")
    fail(Category::usage, "\"digest_alg\" must be \"sha256\" or \"sha384\"");
  if (!password) fail(Category::usage, "\"password\" is missing");
}

std::shared_ptr<const StretchedPassword> stretch_from_hint(
    keystore::Keystore& hints, const std::string& name, const Secret& password,
    std::optional<keystore::UserRecord>* row) {
  // Only where Argon2id is what costs: below the interactive profile the ceremony derives the
  // KEK under the lock as `user sign` does.
  const std::uint64_t worth = kdf::kdf_params(kdf::KdfProfile::interactive).memlimit;
  // Without the workspace lock: SQLite's own locking makes the read safe, and the row read
  // here is only a hint; the ceremony reads it again under the lock and stretches again
  // unless the salt and costs are the same.
  const auto user = hints.find_user(name);
  if (row != nullptr) *row = user;
  if (!user || user->secrets.kdf.memlimit < worth) return nullptr;
  return std::make_shared<const StretchedPassword>(
      stretch_password(name, password, user->secrets.kdf));
}

std::shared_ptr<const StretchedPassword> stretch_before_lock(Workspace& ws,
                                                             const std::string& name,
                                                             const Secret& password) {
  try {
    return stretch_from_hint(*ws.unlocked_keystore(), name, password);
  } catch (const Error&) {
    return nullptr;  // the ceremony meets the same problem under the lock, and reports it
  }
}

std::optional<PreparedUserSignature> prepare_user_sign(const p11::Session& s, const MasterKeys& mk,
                                                       const keystore::UserRecord& row,
                                                       const ServiceSignRequest& r,
                                                       const UserFactors& factors) {
  if (row.locked || row.name != r.name) return std::nullopt;
  if (r.form == SignedForm::digest && user_digest_alg(row.algorithm) != r.digest_alg)
    return std::nullopt;
  PreparedUserSignature out;
  std::optional<Secret> inner;
  out.checked = check_factors_ahead(s, mk, row, factors, &inner);
  if (inner) {
    const UnlockedUser u{row, std::move(*inner), Secret()};
    out.signature = sign_as_user(s, mk, u, r.input, r.form);
  }
  return out;
}

ServiceSignature serve_user_sign(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                 const ServiceSignRequest& r, const UserFactors& factors,
                                 AuthOutcome& outcome, const PreparedUserSignature* prepared) {
  r.validate();
  return with_auth_outcome(ws, mk, r.name, outcome, [&](const p11::Session& s, const MasterKeys&) {
    if (const auto before = ws.keystore().find_user(r.name)) {
      // A digest the key cannot sign is refused before the factors are checked (and a code
      // used up).
      const std::string_view hash = user_digest_alg(before->algorithm);
      if (r.form == SignedForm::digest && hash != r.digest_alg)
        fail(Category::usage,
             fmt::format("user '{}' has a {} key, which signs {}", r.name,
                         user_algorithm(before->algorithm).signature,
                         hash.empty() ? std::string("data, not a digest")
                                      : fmt::format("{} digests, not {}", hash, r.digest_alg)));
    }
    ServiceSignature out;
    // The work done ahead, when the row under the lock is the one it was done for: the factors'
    // answers counted and accepted as authenticate_user does, and its signature.
    if (prepared != nullptr)
      if (const auto user = authenticate_checked(rec, ws, r.name, factors, prepared->checked,
                                                 r.max_auth_failures)) {
        out.signature = prepared->signature;
        out.algorithm = std::string(user_algorithm(user->algorithm).signature);
        out.seq = record_service_signature(rec, *user, r.client, r.input, r.form, r.digest_alg,
                                           out.signature);
        return out;
      }
    // 1. The user's factors open the outer layer (counted, recorded failures).
    const UnlockedUser u = authenticate_user(rec, ws, mk, r.name, factors, r.max_auth_failures);
    const UserAlgorithm& alg = user_algorithm(u.user.algorithm);
    // 2. One signature with a session copy of the key, destroyed at once.
    out.signature = sign_as_user(s, mk, u, r.input, r.form);
    out.algorithm = std::string(alg.signature);
    // 3. Recorded before the answer exists: a signature not in the transcript is not hsmctl's.
    out.seq = record_service_signature(rec, u.user, r.client, r.input, r.form, r.digest_alg,
                                       out.signature);
    return out;
  });
}

ServiceSignature serve_group_sign(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                  const ServiceGroupSignRequest& r, const UserFactors& factors,
                                  AuthOutcome& outcome) {
  return with_auth_outcome(ws, mk, r.member, outcome, [&](const p11::Session& s, const MasterKeys&) {
    // 1. The member's own factors open their layer of the group key.
    const UnlockedGroup g =
        unlock_group_key(rec, ws, mk, r.group, r.member, factors, r.max_auth_failures);
    const UserAlgorithm& alg = group_algorithm(g.group.algorithm);
    // 2. One signature, checked against the group's public key.
    ServiceSignature out;
    out.signature = sign_with_group_key(s, mk, g, r.input);
    out.algorithm = std::string(alg.signature);
    // 3. Recorded before the answer exists.
    out.seq = rec.record("group.signed",
                         {{"group", r.group},
                          {"as", r.member},
                          {"algorithm", g.group.algorithm},
                          {"signature_alg", alg.signature},
                          {"key_version", g.group.key_version},
                          {"fingerprint", crypto::fingerprint(g.group.public_key)},
                          {"client_fingerprint", r.client},
                          {"input", "request"},
                          {"input_size", r.input.size()},
                          {"input_sha256", to_hex(crypto::sha256(r.input))},
                          {"signature_sha256", to_hex(crypto::sha256(out.signature))}});
    return out;
  });
}

std::uint64_t record_service_signature(Recorder& rec, const keystore::UserRecord& user,
                                       const std::string& client, ByteView input,
                                       SignedForm form, const std::string& digest_alg,
                                       ByteView signature) {
  const UserAlgorithm& alg = user_algorithm(user.algorithm);
  nlohmann::json facts{{"name", user.name},
                       {"algorithm", user.algorithm},
                       {"signature_alg", alg.signature},
                       {"key_version", user.secrets.key_version},
                       {"fingerprint", crypto::fingerprint(user.public_key)},
                       {"client_fingerprint", client},
                       {"signature_sha256", to_hex(crypto::sha256(signature))}};
  if (form == SignedForm::data) {
    facts["input"] = "request";
    facts["input_size"] = input.size();
    facts["input_sha256"] = to_hex(crypto::sha256(input));
  } else {
    facts["input"] = "digest";
    facts["digest_alg"] = digest_alg;
    facts["digest"] = to_hex(input);
    if (digest_alg == "sha256") facts["input_sha256"] = to_hex(input);
  }
  return rec.record("user.signed", facts);
}

void check_service_ready(Workspace& ws) {
  const p11::Session& s = ws.login();
  (void)require_master(s);
  ws.keystore();
}

}  // namespace hsm
