// The options a user-key or group-key command takes for one person's factors: --password-source,
// --otp CODE and --otp-source; and the workspace's failure limit that goes with them.
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

// `whose` names the person in the help text: "the user's", "that member's".
void add_factor_options(CLI::App* cmd, FactorArgs& a, const std::string& whose);

// hsmctl.toml's max_auth_failures, or the default.
std::int64_t max_auth_failures(const Cli& cli);

}  // namespace hsm::cli
