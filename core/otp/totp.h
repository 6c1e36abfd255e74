// RFC 6238 TOTP (HMAC-SHA1, 30-second steps): make and check one-time codes. Never accepts a
// code twice (the caller stores the returned step) and never lets the seed leave its Secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/secure/secret.h"

namespace hsm::otp {

inline constexpr std::uint64_t kTimeStep = 30;   // seconds (RFC 6238 default)
inline constexpr int kDigits = 6;                // what authenticator apps show
inline constexpr std::size_t kSeedSize = 20;     // 160 bits, as RFC 4226 recommends

// A fresh random seed of kSeedSize bytes.
Secret new_totp_seed();

// The time step a Unix time falls in: unix_time / kTimeStep.
constexpr std::uint64_t time_step(std::uint64_t unix_time) { return unix_time / kTimeStep; }

// The code for the step containing unix_time, zero-padded to `digits` (6..8). The code is
// short-lived, so a std::string is acceptable. Throws Error(usage) on an empty seed or bad digits.
std::string totp_code(const Secret& seed, std::uint64_t unix_time, int digits = kDigits);

// Checks a 6-digit code against the steps T-1, T and T+1 around unix_time (clock skew of one
// step either way) and returns the matched step, or nullopt when the code is wrong, malformed
// (anything but exactly 6 ASCII digits) or belongs to a step <= last_accepted_step. The caller
// must store the returned step as the new last_accepted_step so each code is accepted once;
// pass 0 when no code was ever accepted. Codes are compared in constant time.
std::optional<std::uint64_t> verify_totp(const Secret& seed, std::string_view code,
                                         std::uint64_t unix_time,
                                         std::uint64_t last_accepted_step);

}  // namespace hsm::otp
