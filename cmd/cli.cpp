// Shared pieces of the command-line front end.
#include "cmd/cli.h"

#include <iostream>

namespace hsm::cli {

WorkspaceOptions Cli::workspace_options(DirUse use) const {
  WorkspaceOptions o;
  o.dir_use = use;
  o.module_path = globals.module;
  o.token = globals.token;
  o.dir = globals.dir;
  o.pin_source = SecretSource::parse(globals.pin_source);
  o.on_lock_wait = [dir = globals.dir] {
    std::cerr << "hsmctl: waiting for another hsmctl using the workspace " << dir << '\n';
  };
  return o;
}

void Cli::emit(const nlohmann::json& doc, const std::function<void(std::ostream&)>& text) const {
  if (globals.json) {
    std::cout << doc.dump(2) << '\n';
  } else {
    text(std::cout);
  }
  std::cout.flush();
}

void with_example(CLI::App* cmd, const std::string& example) {
  cmd->footer("Example:\n  " + example + "\n");
}

CLI::Option* add_source_option(CLI::App* cmd, const std::string& name, std::string& target,
                               const std::string& what) {
  return cmd->add_option(name, target,
                         "where the " + what + " comes from: prompt, env:VAR, file:PATH or fd:N")
      ->type_name("SRC");
}

}  // namespace hsm::cli
