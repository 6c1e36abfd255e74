// Shared pieces of the command-line front end.
#include "cmd/cli.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/crypto/algorithm_names.h"

namespace hsm::cli {

WorkspaceOptions Cli::workspace_options(DirUse use) const {
  WorkspaceOptions o;
  o.dir_use = use;
  o.module_path = globals.module;
  o.token = globals.token;
  o.dir = globals.dir;
  o.store = globals.store;
  o.node = globals.config.node.value_or("");
  o.pin_source = SecretSource::parse(globals.pin_source);
  o.actor = globals.actor;
  o.log_origin = globals.config.log_origin.value_or("");
  o.on_lock_wait = [dir = globals.dir] {
    std::cerr << "hsmctl: waiting for another hsmctl using the workspace " << printable(dir)
              << '\n';
  };
  return o;
}

void Cli::emit(const nlohmann::json& doc, const std::function<void(std::ostream&)>& text) const {
  if (globals.json) {
    std::cout << doc.dump(2) << '\n';
  } else {
    // Text quotes names, actors and file contents: escaped as a whole, lines kept.
    std::ostringstream buffer;
    text(buffer);
    std::cout << printable_lines(buffer.str());
  }
  std::cout.flush();
}

void with_example(CLI::App* cmd, const std::string& example) {
  cmd->footer("Example:\n  " + example + "\n");
}

CLI::Option* add_source_option(CLI::App* cmd, const std::string& name, std::string& target,
                               const std::string& what) {
  // `what` may bring its own determiner ("the user's password", "that member's password").
  const bool determined = what.rfind("the ", 0) == 0 || what.rfind("that ", 0) == 0;
  return cmd->add_option(name, target, "where " + std::string(determined ? "" : "the ") + what +
                                           " comes from: prompt, env:VAR, file:PATH or fd:N")
      ->type_name("SRC");
}

CLI::Option* add_algorithm_option(CLI::App* cmd, const std::string& name, std::string& target,
                                  bool short_form, const std::string& help) {
  return cmd->add_option(name, target, help)
      ->type_name("ALGO")
      ->transform(
          [short_form](std::string v) {
            const auto known = short_form ? short_algorithm(v) : canonical_algorithm(v);
            return known ? std::string(*known) : v;
          },
          "", "");
}

tlog::VerifierKey vkey_arg(const std::string& arg) {
  std::string text = arg;
  if (std::filesystem::is_regular_file(arg)) {
    std::ifstream in(arg, std::ios::binary);
    std::getline(in, text);
  }
  return tlog::parse_verifier_key(text);
}

}  // namespace hsm::cli
