// user otp-enroll: a user who proves their password (and, when re-enrolling, a current code)
// gets a fresh TOTP seed from the token RNG, stored sealed under a key derived from MK-derive.
// The seed leaves this ceremony only as the otpauth:// URI in a Secret, for the terminal (or
// stdout when the caller explicitly asked); it is never recorded or stored in clear.
#pragma once

#include <cstdint>
#include <string>

#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct OtpEnrolOptions {
  std::string name;
  UserFactors factors;  // the password; a current code when a seed is already enrolled
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  void validate() const;  // Error(usage) for a malformed name
};

struct OtpEnrolment {
  Secret otpauth_uri;  // otpauth://totp/hsmctl:NAME?secret=...: carries the seed
};

OtpEnrolment user_otp_enroll(Workspace& ws, const OtpEnrolOptions& options);

}  // namespace hsm
