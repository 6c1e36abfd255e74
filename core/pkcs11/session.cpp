// Sessions, logins and the token RNG.
#include "core/pkcs11/session.h"

#include <fmt/format.h>

#include "core/pkcs11/rv.h"

namespace hsm::p11 {

Session::Session(const Module& module, unsigned long slot_id, bool read_write)
    : module_(module), slot_id_(slot_id) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  check(fn()->C_OpenSession(slot_id, flags, nullptr, nullptr, &handle_), "opening a session");
}

Session::~Session() {
  if (logged_in_) fn()->C_Logout(handle_);
  fn()->C_CloseSession(handle_);
}

void Session::login_user(const Secret& pin) { login(CKU_USER, pin); }
void Session::login_so(const Secret& pin) { login(CKU_SO, pin); }

void Session::login(CK_USER_TYPE who, const Secret& pin) {
  const char* role = who == CKU_SO ? "SO PIN" : "PIN";
  const CK_RV rv = fn()->C_Login(handle_, who, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return;
  if (rv == CKR_OK) {
    logged_in_ = true;
    return;
  }
  const TokenInfo t = token();
  std::string state;
  if (who == CKU_USER) {
    if (t.user_pin_locked) state = "; the user PIN is now locked, the SO must reset it";
    else if (t.user_pin_final_try) state = "; one try left before the PIN locks";
    else if (t.user_pin_count_low) state = "; few tries left before the PIN locks";
  } else if (t.so_pin_locked) {
    state = "; the SO PIN is locked";
  }
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LEN_RANGE:
      throw TokenError(Category::auth, fmt::format("wrong {} for token '{}'{}", role, t.label, state), rv);
    case CKR_PIN_LOCKED:
      throw TokenError(Category::auth, fmt::format("the {} of token '{}' is locked", role, t.label), rv);
    case CKR_USER_PIN_NOT_INITIALIZED:
      throw TokenError(Category::auth, fmt::format("token '{}' has no user PIN yet; run 'hsmctl token init'", t.label), rv);
    default:
      check(rv, fmt::format("logging in to token '{}'", t.label));
  }
}

Bytes Session::random(std::size_t n) const {
  Bytes out(n);
  check(fn()->C_GenerateRandom(handle_, out.data(), out.size()), "reading the token RNG");
  return out;
}

Secret Session::random_secret(std::size_t n) const {
  Secret out(n);
  check(fn()->C_GenerateRandom(handle_, out.data(), out.size()), "reading the token RNG");
  return out;
}

}  // namespace hsm::p11
