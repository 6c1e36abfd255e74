// Who may use a user's key: the password, which opens the outer layer, and once enrolled a
// TOTP code, each accepted once. Every failure is counted against the user (locked after the
// configured number), written to the transcript and thrown as Error(auth). The password and the
// code are read here, into Secrets, and never leave them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "core/keystore/records.h"
#include "core/secure/secret_source.h"

namespace hsm {

struct StretchedPassword;  // user_layers.h

// What a user brings.
struct UserFactors {
  SecretSource password;                   // --password-source
  // The password itself, when it came in some other way than a SecretSource (a request body
  // of `hsmctl serve`): used instead of `password` when set.
  std::shared_ptr<const Secret> password_value;
  // --otp CODE, taken out of argv into a Secret (shared, never copied); --otp-source is the
  // documented way, since a code on the command line is visible to ps until hsmctl blanks it.
  std::shared_ptr<const Secret> otp_code;
  std::optional<SecretSource> otp_source;  // --otp-source SRC
  // The password already stretched for the user's stored KDF parameters (the signing service
  // does it before the workspace lock); used only when those still match.
  std::shared_ptr<const StretchedPassword> stretched;
  bool otp_given() const { return (otp_code && !otp_code->empty()) || otp_source.has_value(); }
};

// The locking policy: DIR/hsmctl.toml [users] max_auth_failures (0: never lock).
inline constexpr std::int64_t kDefaultMaxAuthFailures = 5;

struct UnlockedUser {
  keystore::UserRecord user;
  Secret inner;  // the inner blob (private key wrapped under MK-wrap), out of its outer layer
  // The key-agreement key's inner blob, opened with the same KEK (group keys are sealed to it).
  // A user made before group keys gets one here, lazily (event user.agreement-key.created).
  Secret agreement;
};

// Looks up the user (Error(not_found)), refuses a locked one, checks the TOTP code when one is
// enrolled (a wrong, missing or reused code is a counted failure), opens the outer layer with
// the password (a wrong one is a counted failure), then marks the code used and resets the
// failure count by one update conditional on the user not being locked now: a guess in flight
// when the account locked is refused and counted, right or wrong, with the locked answer.
// Runs inside a ceremony: `rec` records each failure as user.auth.failed.
UnlockedUser authenticate_user(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                               const std::string& name, const UserFactors& factors,
                               std::int64_t max_failures);

// What the token said of a user's factors, worked out from a copy of the user's row that was
// read without the workspace lock (the signing service does this beside the other worker's
// ceremony, see check_factors_ahead): the code's time step (none: the code was wrong), and
// whether the password opened the outer layer. Nothing here is trusted until
// authenticate_checked has compared `row` with the row under the lock.
struct CheckedFactors {
  keystore::UserRecord row;           // the copy the token work used
  bool code_checked = false;          // the row has a code enrolled and one was given
  std::optional<std::uint64_t> step;  // with code_checked: the code's step, if it was right
  bool password_right = false;        // checked only when the code was right (or none enrolled)
};

// The token work of an authentication for `row`, without the keystore: the code against the
// sealed seed, then the password against the outer layer. `opened`, when the password is
// right, gets the inner blob. Throws only what the token throws.
CheckedFactors check_factors_ahead(const p11::Session& s, const MasterKeys& mk,
                                   const keystore::UserRecord& row, const UserFactors& factors,
                                   std::optional<Secret>* opened);

// authenticate_user for factors checked ahead: under the lock, inside the ceremony, the row is
// read, checked against the transcript and refused if locked, exactly as authenticate_user
// does; then, when it is still the row the token work used (same key, layers, KDF and seed),
// the checked answers are counted, recorded and accepted as authenticate_user would have.
// Returns the user's record, or nothing (and has changed nothing) when the row is no longer
// the one checked: the caller then authenticates afresh with authenticate_user.
std::optional<keystore::UserRecord> authenticate_checked(Recorder& rec, Workspace& ws,
                                                         const std::string& name,
                                                         const UserFactors& factors,
                                                         const CheckedFactors& checked,
                                                         std::int64_t max_failures);

}  // namespace hsm
