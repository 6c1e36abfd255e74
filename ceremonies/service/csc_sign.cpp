// csc_authorize (a recorded ceremony of its own) and csc_sign_hashes (in the ceremony of a batch
// of signatures): the steps of `user sign`.
#include "ceremonies/service/csc_sign.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"

namespace hsm {

std::string csc_hash_alg(const keystore::UserRecord& user) {
  return std::string(user_digest_alg(user.algorithm));
}

CscAuthorization csc_authorize(Workspace& ws, SadStore& sads, const CscAuthorizeRequest& r,
                               AuthOutcome& outcome) {
  if (!r.pin) fail(Category::auth, "the PIN (the user's password) is missing");
  UserFactors factors;
  factors.password_value = r.pin;
  factors.otp_code = r.otp;
  if (r.pin) factors.stretched = stretch_before_lock(ws, r.credential, *r.pin);
  const nlohmann::json params{{"name", r.credential}, {"via", "csc"}, {"client", r.client}};
  CscAuthorization out;
  run_ceremony(ws, "user.authorize", params, [&](Recorder& rec) {
    with_auth_outcome(ws, r.credential, outcome, [&](const p11::Session&, const MasterKeys& mk) {
      if (const auto before = ws.keystore().find_user(r.credential)) {
        // Refused before the factors are checked, so no code is used up for nothing.
        const std::string hash = csc_hash_alg(*before);
        if (hash != r.digest_alg)
          fail(Category::usage,
               hash.empty() ? fmt::format("the credential '{}' signs data only, not hashes",
                                          r.credential)
                            : fmt::format("the credential '{}' signs {} hashes, not {}",
                                          r.credential, hash, r.digest_alg));
      }
      // 1. The user's factors open the outer layer (counted, recorded failures).
      const UnlockedUser u =
          authenticate_user(rec, ws, mk, r.credential, factors, r.max_auth_failures);
      // 2. A SAD for exactly these hashes, carrying the inner blob sealed to it.
      const SadGrant grant{r.credential, r.client, r.digest_alg, r.hashes,
                           u.user.secrets.key_version};
      out.sad = sads.issue(grant, u.inner, r.ttl);
      // 3. Recorded: who authorised what, for whom, until when (never the SAD).
      nlohmann::json hashes = nlohmann::json::array();
      for (const Bytes& h : r.hashes) hashes.push_back(to_hex(h));
      out.seq = rec.record("user.authorized", {{"name", r.credential},
                                               {"client_fingerprint", r.client},
                                               {"num_signatures", r.hashes.size()},
                                               {"digest_alg", r.digest_alg},
                                               {"digests", hashes},
                                               {"expires_in", r.ttl.count()}});
    });
  });
  return out;
}

RedeemedSad redeem_sad(SadStore& sads, const CscSignRequest& r) {
  std::string why;
  std::optional<RedeemedSad> redeemed =
      sads.redeem(r.sad, r.credential, r.client, r.digest_alg, r.hashes, why);
  if (!redeemed) fail(Category::usage, why);
  return std::move(*redeemed);
}

CscSignatures csc_sign_hashes(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                              const CscSignRequest& r, RedeemedSad& redeemed) {
  CscSignatures out;
  {
    const p11::Session& s = ws.login();
    std::optional<keystore::UserRecord> user = ws.keystore().find_user(r.credential);
    if (!user) fail(Category::not_found, fmt::format("user '{}' not found", r.credential));
    if (user->locked)
      fail(Category::auth, fmt::format("user '{}' was locked after the SAD was issued",
                                       r.credential));
    if (user->secrets.key_version != redeemed.grant.key_version)
      fail(Category::auth, fmt::format("the key of user '{}' changed after the SAD was issued",
                                       r.credential));
    const UnlockedUser u{std::move(*user), Secret::copy_of(redeemed.inner.bytes()), Secret()};
    for (const Bytes& hash : r.hashes) {
      // One signature with a session copy of the key, recorded before the answer exists.
      Bytes signature = sign_as_user(s, mk, u, hash, SignedForm::digest);
      out.seqs.push_back(
          record_service_signature(rec, u.user, r.client, hash, SignedForm::digest, r.digest_alg,
                                   signature));
      out.signatures.push_back(std::move(signature));
    }
  }
  return out;
}

}  // namespace hsm
