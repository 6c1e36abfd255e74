// Password + TOTP authentication of a user, with counted, recorded failures.
#include "ceremonies/users/user_auth.h"
#include "ceremonies/keystore_state.h"

#include <fmt/format.h>

#include <ctime>

#include "ceremonies/groups/group_agreement.h"
#include "ceremonies/users/user_layers.h"
#include "core/error.h"
#include "core/otp/totp.h"

namespace hsm {

namespace {

// What a locked user is told, whether found locked at the start or while a guess was in
// flight: one answer for a right and a wrong guess.
std::string locked_message(const std::string& name, std::int64_t failures) {
  return fmt::format("user '{}' is locked after {} failed attempts; an admin can run 'hsmctl "
                     "user unlock {}'", name, failures, name);
}

// Counts the failure, records it, and throws Error(auth) with `message` and what is left. A
// user locked meanwhile (by guesses in flight beside this one) gets the locked answer instead.
[[noreturn]] void refuse(Recorder& rec, keystore::Keystore& ks, const std::string& name,
                         std::int64_t max_failures, const char* factor, const char* reason,
                         const std::string& message) {
  const keystore::AuthFailures f = ks.record_auth_failure(name, max_failures);
  rec.record("user.auth.failed", {{"name", name},
                                  {"factor", factor},
                                  {"reason", reason},
                                  {"failures", f.failures},
                                  {"locked", f.locked}});
  if (f.was_locked) fail(Category::auth, locked_message(name, f.failures));
  if (f.locked)
    fail(Category::auth, fmt::format("{}; user '{}' is now locked after {} failures (an admin can "
                                     "run 'hsmctl user unlock {}')", message, name, f.failures,
                                     name));
  if (max_failures > 0)
    fail(Category::auth, fmt::format("{}; {} more failure(s) lock user '{}'", message,
                                     max_failures - f.failures, name));
  fail(Category::auth, message);
}

Secret read_code(const UserFactors& f) {
  if (f.otp_code && !f.otp_code->empty()) return Secret::copy_of(f.otp_code->bytes());
  return read_secret(*f.otp_source, "one-time code");
}

// The start of every authentication, under the lock: the row, the one the transcript recorded
// last (lockout, OTP and the sealed layers are not a copy), not locked, and a code given when
// one is enrolled.
keystore::UserRecord admit_user(Recorder& rec, Workspace& ws, const std::string& name,
                                const UserFactors& factors, std::int64_t max_failures) {
  keystore::Keystore& ks = ws.keystore();
  auto user = ks.find_user(name);
  if (!user) fail(Category::not_found, fmt::format("user '{}' not found", name));
  require_recorded_row(ws, rec.transcript(), "user/" + name, fmt::format("user '{}'", name));
  if (user->locked) {
    rec.record("user.auth.refused", {{"name", name}, {"reason", "locked"},
                                     {"failures", user->failures}});
    fail(Category::auth, locked_message(name, user->failures));
  }
  if (user->otp.enrolled && !factors.otp_given())
    refuse(rec, ks, name, max_failures, "otp", "missing",
           fmt::format("user '{}' has a one-time code enrolled: give --otp-source SRC (or "
                       "--otp CODE)", name));
  return std::move(*user);
}

// The code's answer: a wrong one, or one whose step was accepted already, is a counted failure.
void settle_code(Recorder& rec, keystore::Keystore& ks, const keystore::UserRecord& user,
                 const std::optional<std::uint64_t>& step, std::int64_t max_failures) {
  if (!step)
    refuse(rec, ks, user.name, max_failures, "otp", "wrong",
           fmt::format("wrong one-time code for user '{}'", user.name));
  if (static_cast<std::int64_t>(*step) <= user.otp.last_step)
    refuse(rec, ks, user.name, max_failures, "otp", "reused",
           fmt::format("this one-time code of user '{}' was already used; wait for the next one",
                       user.name));
}

[[noreturn]] void refuse_password(Recorder& rec, keystore::Keystore& ks, const std::string& name,
                                  std::int64_t max_failures) {
  refuse(rec, ks, name, max_failures, "password", "wrong",
         fmt::format("user '{}': wrong password (or the stored key was changed)", name));
}

// The end, one conditional update: the code accepted once (a concurrent use of it loses here)
// and the failures reset, only if the user is not locked now. A right guess that was in flight
// when other guesses locked the account is counted and answered like a wrong one.
void accept_user(Recorder& rec, keystore::Keystore& ks, const keystore::UserRecord& user,
                 const std::optional<std::uint64_t>& step, std::int64_t max_failures) {
  const auto accepted = ks.accept_authentication(
      user.name, step ? std::optional<std::int64_t>(static_cast<std::int64_t>(*step))
                      : std::nullopt);
  if (accepted == keystore::AuthAcceptance::locked)
    refuse(rec, ks, user.name, max_failures, step ? "otp" : "password", "locked",
           locked_message(user.name, user.failures));
  if (accepted == keystore::AuthAcceptance::reused)
    refuse(rec, ks, user.name, max_failures, "otp", "reused",
           fmt::format("this one-time code of user '{}' was already used; wait for the next one",
                       user.name));
}

// The code checked against the sealed seed: its time step, or nothing when it is wrong.
std::optional<std::uint64_t> check_code(const p11::Session& s, const MasterKeys& mk,
                                        const keystore::UserRecord& user,
                                        const UserFactors& factors) {
  const Secret code = read_code(factors);
  if (!user.otp.seed)
    fail(Category::integrity, fmt::format("user '{}' is enrolled for one-time codes but has no "
                                          "stored seed: the keystore was changed", user.name));
  const Secret seed = open_otp_seed(s, mk.derive, user.name, *user.otp.seed);
  return otp::verify_totp(seed, code.chars(), static_cast<std::uint64_t>(std::time(nullptr)), 0);
}

Secret password_of(const UserFactors& factors, const std::string& name) {
  return factors.password_value
             ? Secret::copy_of(factors.password_value->bytes())
             : read_secret(factors.password, fmt::format("password of user '{}'", name));
}

}  // namespace

UnlockedUser authenticate_user(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                               const std::string& name, const UserFactors& factors,
                               std::int64_t max_failures) {
  keystore::Keystore& ks = ws.keystore();
  const p11::Session& s = ws.login();
  std::optional<keystore::UserRecord> user = admit_user(rec, ws, name, factors, max_failures);
  const Secret password = password_of(factors, name);

  // The code first: without it, no answer says anything about the password.
  std::optional<std::uint64_t> step;
  if (user->otp.enrolled) {
    step = check_code(s, mk, *user, factors);
    settle_code(rec, ks, *user, step, max_failures);
  }

  std::optional<Secret> inner, agreement;
  {
    const p11::SessionObject kek =
        derive_user_kek(s, mk.derive, name, password, user->secrets.kdf, factors.stretched.get());
    inner = open_outer(s, kek, *user);
    if (!inner) refuse_password(rec, ks, name, max_failures);
    agreement = open_agreement_key(s, kek, *user);
    if (!agreement && user->secrets.ecdh_key)
      fail(Category::integrity, fmt::format("the stored key-agreement key of user '{}' does not "
                                            "open although the password is right: the keystore "
                                            "was changed", name));
    if (!agreement) {  // made before group keys: give them one now, under the same KEK
      EscrowedKey k = generate_agreement_key(s, mk.wrap);
      user->secrets.ecdh_key =
          seal_agreement_key(s, kek, name, user->secrets.key_version, k.blob);
      user->ecdh_public_key = k.spki;
      ks.set_agreement_key(name, k.spki, *user->secrets.ecdh_key);
      rec.record("user.agreement-key.created", {{"name", name},
                                                {"algorithm", kAgreementAlgorithm},
                                                {"public_key", to_base64(k.spki)}});
      agreement = Secret::copy_of(ByteView(k.blob));
      std::fill(k.blob.begin(), k.blob.end(), std::uint8_t{0});
    }
  }
  accept_user(rec, ks, *user, step, max_failures);
  return {std::move(*user), std::move(*inner), std::move(*agreement)};
}

CheckedFactors check_factors_ahead(const p11::Session& s, const MasterKeys& mk,
                                   const keystore::UserRecord& row, const UserFactors& factors,
                                   std::optional<Secret>* opened) {
  CheckedFactors out;
  out.row = row;
  if (row.otp.enrolled) {
    if (!factors.otp_given() || !row.otp.seed) return out;  // the lock's checks say why
    out.code_checked = true;
    out.step = check_code(s, mk, row, factors);
    if (!out.step) return out;  // a wrong code: the password is not tried
  }
  const Secret password = password_of(factors, row.name);
  const p11::SessionObject kek = derive_user_kek(s, mk.derive, row.name, password,
                                                 row.secrets.kdf, factors.stretched.get());
  std::optional<Secret> inner = open_outer(s, kek, row);
  out.password_right = inner.has_value();
  if (opened != nullptr) *opened = std::move(inner);
  return out;
}

std::optional<keystore::UserRecord> authenticate_checked(Recorder& rec, Workspace& ws,
                                                         const std::string& name,
                                                         const UserFactors& factors,
                                                         const CheckedFactors& checked,
                                                         std::int64_t max_failures) {
  keystore::Keystore& ks = ws.keystore();
  keystore::UserRecord user = admit_user(rec, ws, name, factors, max_failures);
  // The token's answers hold for the row they were worked out from. A user made before group
  // keys gets a key-agreement key from authenticate_user, which the answers here do not cover.
  const keystore::UserRecord& seen = checked.row;
  if (user.name != seen.name || user.algorithm != seen.algorithm ||
      user.public_key != seen.public_key || !(user.secrets == seen.secrets) ||
      user.otp.enrolled != seen.otp.enrolled || user.otp.seed != seen.otp.seed ||
      !user.secrets.ecdh_key || (user.otp.enrolled && !checked.code_checked))
    return std::nullopt;
  if (user.otp.enrolled) settle_code(rec, ks, user, checked.step, max_failures);
  if (!checked.password_right) refuse_password(rec, ks, name, max_failures);
  accept_user(rec, ks, user, checked.step, max_failures);
  return user;
}

}  // namespace hsm
