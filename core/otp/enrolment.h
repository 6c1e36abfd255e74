// What an authenticator app needs to enrol a TOTP seed: the seed in base32 and the otpauth://
// URI. Both contain the seed, so both are returned as Secret and must only go to the terminal.
#pragma once

#include <string_view>

#include "core/secure/secret.h"

namespace hsm::otp {

// RFC 4648 base32 (alphabet A-Z 2-7), without '=' padding, as authenticator apps expect.
// Encoding is branch-free in the seed's bits (no table lookup indexed by secret data).
Secret base32_encode(const Secret& bytes);

// otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
// (Google Authenticator "Key Uri Format"). Issuer and account are percent-encoded (everything
// but A-Z a-z 0-9 - . _ ~). Throws Error(usage) if either is empty or contains ':' (the label
// separator, which apps would split on even when percent-encoded), or if the seed is empty.
Secret otpauth_uri(std::string_view issuer, std::string_view account, const Secret& seed);

}  // namespace hsm::otp
