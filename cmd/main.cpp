// hsmctl entry point: hardens the process, parses the command line (argv > environment >
// DIR/hsmctl.toml > default), runs the chosen action, and is the one place that turns an
// error into "hsmctl: error: ..." and an exit code.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "ceremonies/users/user_layers.h"
#include "cmd/cli.h"
#include "cmd/factors.h"
#include "core/error.h"
#include "core/printable.h"
#include "core/interrupt.h"
#include "core/secure/hardening.h"
#include "core/secure/secret.h"

namespace {


// Messages quote names, paths and rows as given: escaped, they cannot drive the terminal.
void report(const std::string& message) {
  std::cerr << "hsmctl: error: " << hsm::printable(hsm::cli::one_style(message)) << '\n';
}

// argv wins; then the environment variable; then DIR/hsmctl.toml.
void layer(std::string& value, const CLI::Option* opt, const char* env,
           const std::optional<std::string>& from_config) {
  if (opt->count() > 0) return;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') {
    value = e;
    return;
  }
  if (from_config) value = *from_config;
}

}  // namespace

namespace hsm::cli {

void add_all_commands(Cli& cli) {
  add_token_commands(cli);
  add_transcript_commands(cli);
  add_master_commands(cli);
  add_user_commands(cli);
  add_key_commands(cli);
  add_sign_commands(cli);
  add_group_commands(cli);
  add_data_commands(cli);
  add_dek_commands(cli);
  add_backup_commands(cli);
  add_clone_commands(cli);
  add_quorum_commands(cli);
  add_ceremony_commands(cli);
  add_witness_commands(cli);
  add_receipt_commands(cli);
  add_serve_commands(cli);
  add_doctor_commands(cli);
  add_completion_commands(cli);
}

}  // namespace hsm::cli

int main(int argc, char** argv) {
  using namespace hsm::cli;
  try {
    hsm::disable_core_dumps();
    hsm::init_secure_memory();
    hsm::install_interrupt_handlers();
  } catch (const hsm::Error& e) {
    report(e.what());
    return 1;
  }

  Cli cli;
  CLI::App& app = cli.app;
  app.set_version_flag("--version", std::string("hsmctl ") + HSMCTL_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Globals& g = cli.globals;
  auto* module = app.add_option("--module", g.module, "PKCS#11 module (env HSMCTL_MODULE; "
                                "default: the module a --token URI names, else SoftHSMv2 where "
                                "found, else p11-kit-proxy)")->type_name("PATH");
  auto* token = app.add_option("--token", g.token, "token label or RFC 7512 pkcs11: URI "
                               "(env HSMCTL_TOKEN; default: the only initialised token)")
                    ->type_name("LABEL|URI");
  auto* dir = app.add_option("--dir", g.dir, "workspace directory with keystore.sqlite, "
                             "transcript.jsonl, hsmctl.toml (env HSMCTL_DIR; default: .)")
                  ->type_name("DIR");
  auto* store = app.add_option("--store", g.store, "the keystore: a postgresql:// URL without a "
                               "password (env HSMCTL_STORE; default: DIR/keystore.sqlite, or the "
                               "URL DIR/keystore.url records)")
                    ->type_name("URL");
  auto* pin = add_source_option(&app, "--pin-source", g.pin_source, "user PIN");
  pin->description(pin->get_description() + " (env HSMCTL_PIN_SOURCE; default: prompt)");
  app.add_option("--actor", g.actor, "who runs the command, recorded in the transcript with "
                 "the operating-system account (default: that account's name)")
      ->type_name("NAME");
  app.add_flag("--json", g.json, "print one JSON document on stdout instead of text");
  app.add_flag("--yes", g.yes, "no typed confirmations (scripts); never skips a quorum");
  app.footer(kExitCodes);

  add_all_commands(cli);
  add_help_footers(app);

  take_otp_from_argv(argc, argv);  // before the parser copies argv: the code goes to a Secret
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    report(usage_error_message(app, e));
    return 2;
  }

  try {
    if (dir->count() == 0)
      if (const char* e = std::getenv("HSMCTL_DIR"); e != nullptr && *e != '\0') g.dir = e;
    g.config = hsm::read_config(std::filesystem::path(g.dir) / "hsmctl.toml");
    layer(g.module, module, "HSMCTL_MODULE", g.config.module);
    layer(g.token, token, "HSMCTL_TOKEN", g.config.token);
    layer(g.pin_source, pin, "HSMCTL_PIN_SOURCE", g.config.pin_source);
    layer(g.store, store, "HSMCTL_STORE", g.config.store);
    if (!g.store.empty()) {
      try {
        hsm::check_store(g.store);
      } catch (const hsm::Error& e) {
        hsm::fail(hsm::Category::usage, fmt::format("--store: {}", e.what()));
      }
    }
    hsm::SecretSource::parse(g.pin_source);
    if (!g.actor.empty() && !hsm::valid_user_name(g.actor))
      hsm::fail(hsm::Category::usage,
                fmt::format("--actor '{}' must be 1-64 letters, digits, '.', '_', '-' or '@', not "
                            "starting with '.', '-' or '@'", g.actor));
    if (!cli.action) {
      report("no command given; see 'hsmctl --help'");
      return 2;
    }
    return cli.action();
  } catch (const hsm::Error& e) {
    // A ceremony stopped by a signal: the recorder's line says what was recorded and undone.
    if (e.category() == hsm::Category::interrupted || hsm::interrupt_signal() != 0) {
      report(hsm::abort_report().empty() ? e.what() : hsm::abort_report());
      return hsm::exit_code(hsm::Category::interrupted);
    }
    report(e.what());
    return hsm::exit_code(e.category());
  } catch (const std::exception& e) {
    report(fmt::format("unexpected failure: {}", e.what()));
    return 1;
  }
}
