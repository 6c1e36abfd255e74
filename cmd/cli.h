// What every subcommand group file in cmd/ shares: the global options, the action chosen by
// the parser, and printing a result as text or as one JSON document.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <iosfwd>
#include <string>
#include <vector>

#include "ceremonies/workspace.h"
#include "core/printable.h"  // printable(): every text output quotes names through it
#include "core/tlog/note.h"

namespace hsm::cli {

struct Globals {
  std::string module, token, dir = ".", pin_source = "prompt";
  std::string store;  // --store URL: the PostgreSQL keystore; empty: DIR/keystore.sqlite
  std::string actor;  // --actor NAME: recorded as the transcript's actor (default: the account)
  bool json = false, yes = false;
  WorkspaceConfig config;  // DIR/hsmctl.toml
};

struct Cli {
  CLI::App app{"hsmctl: HSM key ceremonies over PKCS#11", "hsmctl"};
  Globals globals;
  std::function<int()> action;  // set by the chosen subcommand; returns the exit code

  // The workspace of the global options; `use` says what the command does with DIR: most need
  // an existing workspace, a few start one, token queries need none (hsmctl(1), --dir).
  WorkspaceOptions workspace_options(DirUse use = DirUse::existing) const;
  // Prints `doc` as JSON with --json, else calls `text` with stdout.
  void emit(const nlohmann::json& doc, const std::function<void(std::ostream&)>& text) const;
};

// The exit codes, as every --help ends with them (hsmctl(1) EXIT STATUS).
inline constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 error, 2 usage, 3 authentication failed, 4 integrity failure,\n"
    "5 quorum not met, 6 token/PKCS#11 failure, 7 not found or already exists,\n"
    "130 ceremony interrupted (SIGINT, SIGTERM, SIGHUP) and rolled back. See hsmctl(1).";

// cmd/usage.cpp: the one-line message for a CLI11 parse error (a mistyped command or option
// names the closest real one and the command's --help); the closest of `names` to `typed`
// ("" when none is close); and the global options and exit codes below every command's help.
std::string usage_error_message(const CLI::App& root, const CLI::ParseError& e);
std::string closest_name(const std::string& typed, const std::vector<std::string>& names);
void add_help_footers(CLI::App& app);
// An error message in the one style of "hsmctl: error:" lines (see cmd/usage.cpp).
std::string one_style(std::string message);

// Adds an example to a command's --help.
void with_example(CLI::App* cmd, const std::string& example);
// Adds a "--*-source SRC" option with its help.
CLI::Option* add_source_option(CLI::App* cmd, const std::string& name, std::string& target,
                               const std::string& what);

// Adds an algorithm option ("--algo") that takes either spelling (ec-p256 or p256, see
// core/crypto/algorithm_names.h) and hands the command the spelling its records keep: the short
// one for user and group keys (`short_form`), the hsmctl one for signing keys. Names it does not
// know pass unchanged, for the ceremony to refuse with the list of valid ones.
CLI::Option* add_algorithm_option(CLI::App* cmd, const std::string& name, std::string& target,
                                  bool short_form, const std::string& help);

// A verifier key (C2SP vkey) given as text, or the first line of the file it names.
tlog::VerifierKey vkey_arg(const std::string& arg);

// --receipt [FILE] of a command that signs (cmd/receipt.cpp): the receipt's path, when asked
// for (default: `out` + ".tlog-proof"), checked before the signature is made; after the
// ceremony, writes it and adds "receipt" to the command's JSON `doc`.
CLI::Option* add_receipt_option(CLI::App* cmd, std::string& target);
std::optional<std::filesystem::path> receipt_path(const CLI::Option* option,
                                                  const std::string& value,
                                                  const std::filesystem::path& out);
void write_receipt_after(const Cli& cli, const std::optional<std::filesystem::path>& receipt,
                         std::uint64_t seq, nlohmann::json& doc);
// The text line that names the receipt written, if any.
void print_receipt(std::ostream& out, const std::optional<std::filesystem::path>& receipt);

// One registration function per subcommand group (one file each).
void add_token_commands(Cli& cli);
void add_transcript_commands(Cli& cli);
// transcript checkpoint | prove | publish (transcript_log.cpp), added by the above.
void add_transcript_log_commands(Cli& cli, CLI::App* group);
// transcript monitor (transcript_monitor.cpp).
void add_transcript_monitor_command(Cli& cli, CLI::App* group);
void add_master_commands(Cli& cli);
void add_user_commands(Cli& cli);
void add_key_commands(Cli& cli);
void add_sign_commands(Cli& cli);
void add_completion_commands(Cli& cli);
void add_doctor_commands(Cli& cli);
void add_backup_commands(Cli& cli);
void add_clone_commands(Cli& cli);
void add_group_commands(Cli& cli);
void add_data_commands(Cli& cli);  // data.cpp
void add_dek_commands(Cli& cli);   // data.cpp
void add_ceremony_commands(Cli& cli);
void add_witness_commands(Cli& cli);
void add_receipt_commands(Cli& cli);
void add_serve_commands(Cli& cli);  // serve.cpp
void add_quorum_commands(Cli& cli);  // quorum.cpp
// All of the above, in --help order (main.cpp; `ceremony validate` parses plan steps with it).
void add_all_commands(Cli& cli);

}  // namespace hsm::cli
