// The token work behind `hsmctl serve`: a signature as a user or a group member (the `user sign`
// and `group sign` ceremonies' own steps, recorded as user.signed / group.signed with the client
// certificate's fingerprint, inside the ceremony of the batch the request is part of:
// group_commit.h), the readiness check and a user's public key. Never records or returns a
// secret; the password and the code stay in Secrets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ceremonies/recorder.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/users/user_layers.h"
#include "ceremonies/users/user_sign.h"
#include "ceremonies/workspace.h"
#include "core/bytes.h"
#include "core/error.h"
#include "core/keystore/keystore.h"
#include "core/secure/secret.h"

namespace hsm {

struct ServiceSignRequest {
  std::string name;        // the user
  Bytes input;             // the data, or its digest
  SignedForm form = SignedForm::data;
  std::string digest_alg;  // with SignedForm::digest: "sha256" or "sha384"
  std::shared_ptr<const Secret> password, otp;  // otp: null when the request has none
  std::string client;      // SHA-256 fingerprint (hex) of the client's certificate
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  // Error(usage) for a malformed name or an empty input (before the workspace is opened).
  void validate() const;
};

struct ServiceSignature {
  Bytes signature;        // DER for ECDSA
  std::string algorithm;  // "ecdsa-p256-sha256", ...
  std::uint64_t seq = 0;  // of the user.signed entry
};

// How an authentication failure ended, for the HTTP status and the lockout count.
struct AuthOutcome {
  bool factors_checked = false;  // the token and the master key were there: the user's turn
  bool was_locked = false;  // refused because the user was locked already
  bool locked_now = false;  // this failure locked the user
};

// Runs one request's token work `body(session, mk)` for `user`, the master keys `mk` found
// already (a batch finds them once): on an Error(auth) says in `outcome` whether the user was
// locked already or is locked now, then rethrows.
template <class Body>
auto with_auth_outcome(Workspace& ws, const MasterKeys& mk, const std::string& user,
                       AuthOutcome& outcome, Body&& body) {
  try {
    const p11::Session& s = ws.login();
    outcome.factors_checked = true;  // from here, not_found and auth are about the user
    if (const auto before = ws.keystore().find_user(user)) outcome.was_locked = before->locked;
    return body(s, mk);
  } catch (const Error& e) {
    if (e.category() == Category::auth && outcome.factors_checked) {
      const auto after = ws.keystore().find_user(user);
      outcome.locked_now = !outcome.was_locked && after && after->locked;
    }
    throw;
  }
}

// The same, logging in and finding the master keys first (until then a failure is the
// service's, not the user's).
template <class Body>
auto with_auth_outcome(Workspace& ws, const std::string& user, AuthOutcome& outcome, Body&& body) {
  const MasterKeys mk = require_master(ws.login());
  return with_auth_outcome(ws, mk, user, outcome, std::forward<Body>(body));
}

// The token work of a user's signature, done before its batch takes the workspace (on the
// worker's own session, worker_token.h), from the row read for the request's KDF hint: the
// factors checked and, when they are right, the signature made. The batch's ceremony uses it
// only if the row under the lock is still that row (authenticate_checked).
struct PreparedUserSignature {
  CheckedFactors checked;
  Bytes signature;  // empty unless the factors were right
};
// Nothing when there is nothing to do ahead: no row, a locked user, a digest the key does not
// sign (the ceremony refuses those itself). Throws what the token throws.
std::optional<PreparedUserSignature> prepare_user_sign(const p11::Session& s, const MasterKeys& mk,
                                                       const keystore::UserRecord& row,
                                                       const ServiceSignRequest& r,
                                                       const UserFactors& factors);

// Inside the ceremony `rec` of a batch (the master keys `mk` found by it): authenticates and
// signs as `user sign` does, and records user.signed before returning (no record, no
// signature). With `prepared`, its answers and signature are used when the row is unchanged.
// On an Error(auth), fills `outcome` before rethrowing.
ServiceSignature serve_user_sign(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                 const ServiceSignRequest& r, const UserFactors& factors,
                                 AuthOutcome& outcome,
                                 const PreparedUserSignature* prepared = nullptr);

struct ServiceGroupSignRequest {
  std::string group, member;  // the group, and the member whose factors open it
  Bytes input;                // the data (a group signs data only)
  std::shared_ptr<const Secret> password, otp;
  std::string client;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
};

// Inside the ceremony `rec` of a batch: signs as `group sign --as MEMBER` does
// (unlock_group_key, sign_with_group_key) and records group.signed, with the client's
// fingerprint and the data's SHA-256 and size, before returning. On an Error(auth), fills
// `outcome` (about the member) first.
ServiceSignature serve_group_sign(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                  const ServiceGroupSignRequest& r, const UserFactors& factors,
                                  AuthOutcome& outcome);

// The user.signed entry of one signature made by the service (/v1 sign and CSC signHash): the
// public facts of `user sign`, the client's fingerprint, and the data's SHA-256 and size or
// the digest signed. Returns its seq. Called before the signature leaves the process.
std::uint64_t record_service_signature(Recorder& rec, const keystore::UserRecord& user,
                                       const std::string& client, ByteView input,
                                       SignedForm form, const std::string& digest_alg,
                                       ByteView signature);

// Error(...) saying why the service cannot sign now (no token, a wrong PIN, no master key,
// no keystore); returns when it can.
void check_service_ready(Workspace& ws);

// The password of user `name` stretched by Argon2id at the user's stored KDF parameters, read
// without the workspace lock (so that workers do not take turns at the KDF; one request at a
// time per worker keeps one Argon2 buffer per worker); null below the interactive profile or
// when the user cannot be read (the ceremony then says why, under the lock).
std::shared_ptr<const StretchedPassword> stretch_before_lock(Workspace& ws,
                                                             const std::string& name,
                                                             const Secret& password);
// The same with a connection the caller keeps for such hints (the service keeps one per
// worker: opening the keystore costs more than a KDF at the min profile); `row`, if given,
// gets the row read. Throws what the read throws.
std::shared_ptr<const StretchedPassword> stretch_from_hint(
    keystore::Keystore& hints, const std::string& name, const Secret& password,
    std::optional<keystore::UserRecord>* row = nullptr);

}  // namespace hsm
