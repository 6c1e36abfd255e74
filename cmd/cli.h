// What every subcommand group file in cmd/ shares: the global options, the action chosen by
// the parser, and printing a result as text or as one JSON document.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <string>

#include "ceremonies/workspace.h"

namespace hsm::cli {

struct Globals {
  std::string module, token, dir = ".", pin_source = "prompt";
  bool json = false, yes = false;
  WorkspaceConfig config;  // DIR/hsmctl.toml
};

struct Cli {
  CLI::App app{"hsmctl: HSM key ceremonies over PKCS#11", "hsmctl"};
  Globals globals;
  std::function<int()> action;  // set by the chosen subcommand; returns the exit code
  char** argv = nullptr;         // main's, for a command that re-executes itself

  // The workspace of the global options; `use` says what the command does with DIR: most need
  // an existing workspace, a few start one, token queries need none (hsmctl(1), --dir).
  WorkspaceOptions workspace_options(DirUse use = DirUse::existing) const;
  // Prints `doc` as JSON with --json, else calls `text` with stdout.
  void emit(const nlohmann::json& doc, const std::function<void(std::ostream&)>& text) const;
};

// Adds an example to a command's --help.
void with_example(CLI::App* cmd, const std::string& example);
// Adds a "--*-source SRC" option with its help.
CLI::Option* add_source_option(CLI::App* cmd, const std::string& name, std::string& target,
                               const std::string& what);

// One registration function per subcommand group (one file each).
void add_token_commands(Cli& cli);
void add_transcript_commands(Cli& cli);
void add_master_commands(Cli& cli);
void add_user_commands(Cli& cli);
void add_key_commands(Cli& cli);
void add_sign_commands(Cli& cli);
void add_completion_commands(Cli& cli);
void add_doctor_commands(Cli& cli);
void add_backup_commands(Cli& cli);
void add_clone_commands(Cli& cli);
void add_group_commands(Cli& cli);
void add_ceremony_commands(Cli& cli);
// All of the above, in --help order (main.cpp; `ceremony validate` parses plan steps with it).
void add_all_commands(Cli& cli);

}  // namespace hsm::cli
