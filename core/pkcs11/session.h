// An open PKCS#11 session with RAII login: the destructor logs out (if this session logged in)
// and closes. The Module must outlive its sessions.
#pragma once

#include <string>

#include "core/bytes.h"
#include "core/pkcs11/module.h"
#include "core/pkcs11/p11.h"
#include "core/pkcs11/token.h"
#include "core/secure/secret.h"

namespace hsm::p11 {

class Session {
 public:
  Session(const Module& module, unsigned long slot_id, bool read_write = true);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Logs in as the user. A wrong PIN throws Error(auth) that says so and, where the token
  // reports it, how close the PIN is to being locked.
  void login_user(const Secret& pin);
  void login_so(const Secret& pin);

  CK_SESSION_HANDLE handle() const noexcept { return handle_; }
  CK_FUNCTION_LIST* fn() const noexcept { return module_.fn(); }
  const Module& module() const noexcept { return module_; }
  unsigned long slot_id() const noexcept { return slot_id_; }
  TokenInfo token() const { return token_info(module_, slot_id_); }

  // Bytes from the token's RNG.
  Bytes random(std::size_t n) const;
  Secret random_secret(std::size_t n) const;

 private:
  void login(CK_USER_TYPE who, const Secret& pin);
  const Module& module_;
  unsigned long slot_id_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  bool logged_in_ = false;
};

}  // namespace hsm::p11
