#include "cmd/factors.h"

#include "core/secure/secret_source.h"

namespace hsm::cli {

UserFactors FactorArgs::factors() const {
  UserFactors f;
  f.password = SecretSource::parse(password);
  f.otp_code = otp_code;
  if (!otp_source.empty()) f.otp_source = SecretSource::parse(otp_source);
  return f;
}

void add_factor_options(CLI::App* cmd, FactorArgs& a, const std::string& whose) {
  add_source_option(cmd, "--password-source", a.password, whose + " password (default: prompt)");
  cmd->add_option("--otp", a.otp_code, whose + " current one-time code (once enrolled)")
      ->type_name("CODE");
  add_source_option(cmd, "--otp-source", a.otp_source, whose + " one-time code");
}

std::int64_t max_auth_failures(const Cli& cli) {
  return cli.globals.config.max_auth_failures.value_or(kDefaultMaxAuthFailures);
}

}  // namespace hsm::cli
