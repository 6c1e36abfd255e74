// The security state of a user row that authentication changes: the lockout (failures, locked),
// the last one-time-code step accepted and the code seed, each one conditional statement whose
// row count decides, so that two processes (or two nodes on one database) cannot both accept
// one code or miss a failure.
#include <optional>
#include <string_view>

#include "core/error.h"
#include "core/keystore/keystore.h"

namespace hsm::keystore {

namespace {

[[noreturn]] void missing_user(std::string_view name) {
  fail(Category::not_found, "user '" + std::string(name) + "' not found");
}

}  // namespace

// Whether the user is locked now (inside a transaction: as of its write lock).
bool Keystore::user_locked(std::string_view name) {
  Statement st(db_, "SELECT locked FROM users WHERE name = :name");
  st.bind(":name", name);
  if (!st.step()) missing_user(name);
  return st.integer("locked") != 0;
}

AuthFailures Keystore::record_auth_failure(std::string_view name, std::int64_t lock_after) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  // Read under the transaction's write lock (BEGIN IMMEDIATE, or the advisory lock), so it is
  // the value the update below starts from.
  const bool was_locked = user_locked(name);
  Statement st(db_,
               "UPDATE users SET failures = failures + 1, "
               "locked = CASE WHEN locked = 1 OR (:lock_after > 0 AND failures + 1 >= :lock_after) "
               "THEN 1 ELSE 0 END "
               "WHERE name = :name RETURNING failures, locked");
  st.bind(":lock_after", lock_after).bind(":name", name);
  if (!st.step()) missing_user(name);
  const AuthFailures result{.failures = st.integer("failures"),
                            .locked = st.integer("locked") != 0,
                            .was_locked = was_locked};
  st.run();
  touch("user/" + std::string(name));
  tx.commit();
  return result;
}

void Keystore::reset_failures(std::string_view name) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  Statement st(db_, "UPDATE users SET failures = 0 WHERE name = :name");
  st.bind(":name", name).run();
  if (st.changes() == 0) missing_user(name);
  touch("user/" + std::string(name));
  tx.commit();
}

void Keystore::set_locked(std::string_view name, bool locked) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  Statement st(db_,
               "UPDATE users SET locked = :locked, "
               "failures = failures * :locked WHERE name = :name");  // locked: 0 or 1
  st.bind(":locked", locked).bind(":name", name).run();
  if (st.changes() == 0) missing_user(name);
  touch("user/" + std::string(name));
  tx.commit();
}

void Keystore::set_user_otp(std::string_view name, const std::optional<SealedBlob>& seed,
                            bool enrolled) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  Statement st(db_,
               "UPDATE users SET otp_seed = :otp_seed, otp_nonce = :otp_nonce, "
               "otp_enrolled = :otp_enrolled, otp_last_step = 0 WHERE name = :name");
  if (seed)
    st.bind(":otp_seed", seed->ciphertext).bind(":otp_nonce", seed->nonce);
  else
    st.bind(":otp_seed", nullptr).bind(":otp_nonce", nullptr);
  st.bind(":otp_enrolled", enrolled).bind(":name", name).run();
  if (st.changes() == 0) missing_user(name);
  touch("user/" + std::string(name));
  tx.commit();
}

bool Keystore::accept_otp_step(std::string_view name, std::int64_t step) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  Statement st(db_,
               "UPDATE users SET otp_last_step = :step "
               "WHERE name = :name AND otp_last_step < :step");
  st.bind(":step", step).bind(":name", name).run();
  if (st.changes() == 1) {
    touch("user/" + std::string(name));
    tx.commit();
    return true;
  }
  if (!find_user(name)) missing_user(name);
  return false;
}

AuthAcceptance Keystore::accept_authentication(std::string_view name,
                                               std::optional<std::int64_t> step) {
  const std::string key = "user/" + std::string(name);
  if (!step) {
    // Without a code there is nothing to write unless failures were counted: one read decides.
    // A lock committed after it is a later event than this success, which changed nothing.
    Statement now(db_, "SELECT locked, failures FROM users WHERE name = :name");
    now.bind(":name", name);
    if (!now.step()) missing_user(name);
    if (now.integer("locked") != 0) return AuthAcceptance::locked;
    if (now.integer("failures") == 0) return AuthAcceptance::accepted;
  }
  Transaction tx(db_);
  before_change(key);
  // One update, conditional on the user not being locked: its row count decides, so a lock
  // committed by a concurrent failure is seen here whatever this process read at its start.
  Statement st(db_, step ? "UPDATE users SET otp_last_step = :step, failures = 0 "
                           "WHERE name = :name AND locked = 0 AND otp_last_step < :step"
                         : "UPDATE users SET failures = 0 "
                           "WHERE name = :name AND locked = 0 AND failures <> 0");
  if (step) st.bind(":step", *step);
  st.bind(":name", name).run();
  if (st.changes() == 1) {
    touch(key);
    tx.commit();
    return AuthAcceptance::accepted;
  }
  // Nothing changed: locked, or the code's step was used, or (without a code) the failures were
  // reset meanwhile. The read is under the same write lock as the update.
  const bool locked = user_locked(name);
  tx.commit();
  if (locked) return AuthAcceptance::locked;
  return step ? AuthAcceptance::reused : AuthAcceptance::accepted;
}

}  // namespace hsm::keystore
