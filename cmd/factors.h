// The options a user-key or group-key command takes for one person's factors: --password-source,
// --otp-source and --otp CODE; and the workspace's limits that go with them. A code given with
// --otp is moved out of argv into a Secret before the parser sees it (take_otp_from_argv).
#pragma once

#include <cstdint>
#include <string>

#include "ceremonies/users/user_auth.h"
#include "cmd/cli.h"

namespace hsm::cli {

struct FactorArgs {
  std::string password = "prompt", otp_code, otp_source;
  UserFactors factors() const;
};

// Moves the value of every "--otp CODE" / "--otp=CODE" in argv into a Secret and overwrites it
// in place with '*' (what ps and /proc show from then on, and all the parser sees). main calls
// it before parsing; FactorArgs::factors() then takes the code from there.
void take_otp_from_argv(int argc, char** argv);

// `whose` names the person in the help text: "the user's", "that member's".
void add_factor_options(CLI::App* cmd, FactorArgs& a, const std::string& whose);

// hsmctl.toml's max_auth_failures, or the default.
std::int64_t max_auth_failures(const Cli& cli);
// hsmctl.toml's min_password_length, or the default (12).
std::size_t min_password_length(const Cli& cli);

}  // namespace hsm::cli
