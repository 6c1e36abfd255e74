// Translation of every CK_RV into a typed hsm::Error with a readable name. The only place that
// decides which PKCS#11 return values mean "wrong PIN" (auth) and which mean "token failure".
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/pkcs11/p11.h"

namespace hsm::p11 {

// A failed PKCS#11 call. Carries the CK_RV so a caller can give it a meaning in context
// (for example: CKR_GENERAL_ERROR from C_UnwrapKey means a tampered blob or the wrong key).
class TokenError : public Error {
 public:
  TokenError(Category c, std::string message, CK_RV rv);
  CK_RV rv() const noexcept { return rv_; }

 private:
  CK_RV rv_;
};

// "CKR_PIN_INCORRECT", or "CKR_0x..." for values no standard names.
std::string rv_name(CK_RV rv);
// The category a CK_RV falls in when nothing more is known about the call.
Category rv_category(CK_RV rv) noexcept;
// Throws TokenError when rv != CKR_OK; `what` says what hsmctl was doing ("logging in").
void check(CK_RV rv, std::string_view what);

}  // namespace hsm::p11
