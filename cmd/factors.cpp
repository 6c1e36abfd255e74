// Factor options of user and group commands (--password-source, --otp-source, --otp) and the
// workspace limits that go with them; --otp codes are taken out of argv into a Secret.
#include "cmd/factors.h"

#include <cstring>
#include <memory>

#include "ceremonies/users/password_rules.h"
#include "core/secure/secret_source.h"

namespace hsm::cli {

namespace {

// The last --otp value taken out of argv.
std::shared_ptr<const Secret>& argv_otp() {
  static std::shared_ptr<const Secret> code;
  return code;
}

}  // namespace

void take_otp_from_argv(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") break;
    char* value = nullptr;
    if (arg == "--otp" && i + 1 < argc) value = argv[++i];
    else if (arg.rfind("--otp=", 0) == 0) value = argv[i] + 6;
    if (value == nullptr) continue;
    const std::size_t n = std::strlen(value);
    argv_otp() = std::make_shared<const Secret>(Secret::copy_of(std::string_view(value, n)));
    std::memset(value, '*', n);
  }
}

UserFactors FactorArgs::factors() const {
  UserFactors f;
  f.password = SecretSource::parse(password);
  // The parser saw only the '*' left in argv; the code itself is in argv_otp(). (Arguments
  // that never were argv, like a plan step checked by 'ceremony validate', have none there.)
  if (!otp_code.empty())
    f.otp_code = argv_otp() ? argv_otp()
                            : std::make_shared<const Secret>(Secret::copy_of(otp_code));
  if (!otp_source.empty()) f.otp_source = SecretSource::parse(otp_source);
  return f;
}

void add_factor_options(CLI::App* cmd, FactorArgs& a, const std::string& whose) {
  add_source_option(cmd, "--password-source", a.password, whose + " password (default: prompt)");
  add_source_option(cmd, "--otp-source", a.otp_source, whose + " current one-time code (once "
                    "enrolled)");
  cmd->add_option("--otp", a.otp_code, "the code on the command line instead: other users "
                  "can see it in ps and /proc until hsmctl starts and blanks it, and your shell "
                  "may keep it in its history; prefer --otp-source")
      ->type_name("CODE");
}

std::size_t min_password_length(const Cli& cli) {
  const auto n = cli.globals.config.min_password_length;
  return n ? static_cast<std::size_t>(*n) : kDefaultMinPasswordLength;
}

std::int64_t max_auth_failures(const Cli& cli) {
  return cli.globals.config.max_auth_failures.value_or(kDefaultMaxAuthFailures);
}

}  // namespace hsm::cli
