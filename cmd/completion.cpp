// completion bash | zsh | fish: small shell functions that ask hsmctl itself what may come next
// (`hsmctl completion complete WORDS...`, hidden), so the commands and options offered are the
// CLI11 definitions of the binary that answers, and values come from where they live: fixed
// lists (--algo, --kdf-profile, --pin-source forms), token labels from the module, user, group
// and key names from the workspace. Completing never writes, logs in or waits for a lock.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ceremonies/groups/group_admin.h"
#include "ceremonies/users/user_admin.h"
#include "cmd/cli.h"
#include "core/pkcs11/token.h"

namespace hsm::cli {

namespace {

std::vector<const CLI::App*> visible_subcommands(const CLI::App* app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_group().empty()) out.push_back(sub);
  return out;
}

const CLI::App* find_subcommand(const CLI::App* app, const std::string& word) {
  for (const CLI::App* sub : visible_subcommands(app))
    if (sub->get_name() == word) return sub;
  return nullptr;
}

// The option `--name` of `app` or of a command above it (globals are accepted everywhere).
const CLI::Option* find_option(const CLI::App* app, const std::string& word) {
  for (; app != nullptr; app = app->get_parent())
    for (const CLI::Option* o : app->get_options())
      if (o->nonpositional() && o->check_name(word)) return o;
  return nullptr;
}

std::string group_of(const CLI::App* app) {
  while (app->get_parent() != nullptr && app->get_parent()->get_parent() != nullptr)
    app = app->get_parent();
  return app->get_parent() == nullptr ? "" : app->get_name();
}

// What the value of `name` (an option's long name, or a positional's) is, in command `app`:
// a fixed word list, "@users"/"@groups"/"@keys"/"@tokens" (looked up), ":dirs" or ":files".
std::string value_kind(const CLI::App* app, const std::string& name) {
  const std::string group = group_of(app), cmd = app->get_name();
  if (name == "algo" || name == "group-algo") {
    if (group == "key") return "ec-p256 ec-p384 rsa-3072 rsa-4096 ed25519";
    if (group == "group" || name == "group-algo") return "ec-p256 ec-p384 rsa-3072";
    return "ec-p256 ec-p384 rsa-3072 ed25519";
  }
  if (name == "kdf-profile") return "interactive moderate sensitive min";
  if (name.size() > 7 && name.substr(name.size() - 7) == "-source") return "prompt env: file: fd:";
  if (name == "purpose") return group == "group" ? "sign encrypt" : "ca code generic";
  if (name == "context") return "";  // KEY=VALUE: nothing to offer
  if (name == "format") return group == "user" ? "csv jsonl" : "raw cms";
  if (name == "token" || name == "to-token") return "@tokens";
  if (name == "key") return "@keys";
  if (name == "user" || name == "members" || name == "USER") return "@users";
  if (name == "group" || name == "GROUP") return "@groups";
  if (name == "NAME" && group == "user" && cmd != "create") return "@users";
  if (name == "NAME" && group == "group" && cmd != "create") return "@groups";
  if (name == "LABEL" && group == "key" && cmd != "generate") return "@keys";
  if (name == "dir" || name == "shares-out") return ":dirs";
  if (name == "NAME" || name == "LABEL" || name == "TEXT") return "";  // a new name: nothing
  return ":files";
}

// The names a lookup kind stands for; nothing (never an error) when they cannot be read.
std::vector<std::string> lookup(const Cli& cli, const std::string& kind, const std::string& dir,
                                const std::string& module) {
  std::vector<std::string> out;
  try {
    if (kind == "@tokens") {
      const auto m = p11::Module::load(resolve_module_path(module));
      for (const auto& s : p11::list_slots(*m))
        if (s.token && s.token->initialized) out.push_back(s.token->label);
      return out;
    }
    WorkspaceOptions o = cli.workspace_options();
    o.dir = dir;
    o.dir_use = DirUse::none;
    o.lock_wait = std::chrono::milliseconds(0);
    o.on_lock_wait = nullptr;
    Workspace ws(o);
    if (!ws.has_keystore()) return out;
    if (kind == "@users")
      for (const auto& u : user_list(ws)) out.push_back(u.name);
    if (kind == "@groups")
      for (const auto& g : group_list(ws)) out.push_back(g.name);
    if (kind == "@keys")
      for (const auto& k : ws.keystore().list_keys()) out.push_back(k.label);
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

// Candidates for the last of `words` (the words after "hsmctl"; the last may be empty), one a
// line; or ":files"/":dirs" for the shell to complete paths itself.
std::string complete_words(const Cli& cli, const std::vector<std::string>& words) {
  const CLI::App* app = &cli.app;
  std::string dir = cli.globals.dir, module = cli.globals.module, pending;
  std::size_t positional = 0;
  const std::string cur = words.empty() ? "" : words.back();
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (!pending.empty()) {
      if (pending == "--dir") dir = w;
      if (pending == "--module") module = w;
      pending.clear();
      continue;
    }
    if (w.size() > 1 && w[0] == '-') {
      const CLI::Option* o = find_option(app, w.substr(0, w.find('=')));
      if (o != nullptr && o->get_items_expected_max() > 0 && w.find('=') == std::string::npos)
        pending = w;
      continue;
    }
    if (const CLI::App* sub = find_subcommand(app, w)) {
      app = sub;
      positional = 0;
    } else {
      ++positional;
    }
  }
  std::string kind;
  std::vector<std::string> candidates;
  if (!pending.empty()) {
    const CLI::Option* o = find_option(app, pending);
    kind = value_kind(app, o->get_lnames().empty() ? pending : o->get_lnames().front());
  } else if (cur.size() > 0 && cur[0] == '-') {
    for (const CLI::App* a = app; a != nullptr; a = a->get_parent())
      for (const CLI::Option* o : a->get_options())
        for (const auto& l : o->get_lnames()) candidates.push_back("--" + l);
    candidates.push_back("--help");
  } else if (!visible_subcommands(app).empty()) {
    for (const CLI::App* sub : visible_subcommands(app)) candidates.push_back(sub->get_name());
  } else {
    std::vector<const CLI::Option*> pos;
    for (const CLI::Option* o : app->get_options())
      if (!o->nonpositional()) pos.push_back(o);
    if (positional < pos.size()) kind = value_kind(app, pos[positional]->get_name());
  }
  if (kind == ":files" || kind == ":dirs") return kind + "\n";
  if (!kind.empty()) {
    if (kind[0] == '@') {
      candidates = lookup(cli, kind, dir, module);
    } else {
      for (std::size_t at = 0; at < kind.size();) {
        const std::size_t end = std::min(kind.find(' ', at), kind.size());
        candidates.push_back(kind.substr(at, end - at));
        at = end + 1;
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::string out;
  for (const auto& c : candidates)
    if (c.rfind(cur, 0) == 0) out += c + "\n";
  return out;
}

constexpr const char* kBash = R"(# bash completion for hsmctl (hsmctl completion bash)
_hsmctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' out
  out=$("${COMP_WORDS[0]}" completion complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  case $out in
    :files) COMPREPLY=($(compgen -f -- "$cur")) ;;
    :dirs) COMPREPLY=($(compgen -d -- "$cur")) ;;
    *) COMPREPLY=($out)
       [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null ;;
  esac
}
complete -F _hsmctl hsmctl
)";

constexpr const char* kZsh = R"(#compdef hsmctl
# zsh completion for hsmctl (hsmctl completion zsh)
_hsmctl() {
  local -a plain open
  local out c
  out=$("${words[1]}" completion complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)
  case $out in
    :files) _files ;;
    :dirs) _files -/ ;;
    *) for c in "${(@f)out}"; do
         [[ -z $c ]] && continue
         if [[ $c == *: ]]; then open+=("$c"); else plain+=("$c"); fi
       done
       (( ${#plain} )) && compadd -a plain
       (( ${#open} )) && compadd -S '' -a open ;;
  esac
}
compdef _hsmctl hsmctl
)";

constexpr const char* kFish = R"(# fish completion for hsmctl (hsmctl completion fish)
function __hsmctl_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -q cur[1]; or set cur ''
    set -l out ($words[1] completion complete -- $words[2..] $cur[1] 2>/dev/null)
    switch "$out"
        case ':files'
            __fish_complete_path (commandline -ct)
        case ':dirs'
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $out
    end
end
complete -c hsmctl -f -a '(__hsmctl_complete)'
)";

}  // namespace

void add_completion_commands(Cli& cli) {
  auto* group = cli.app.add_subcommand("completion", "print a shell completion script (bash, "
                                       "zsh or fish)");
  group->require_subcommand(1);
  const struct {
    const char* shell;
    const char* script;
    const char* example;
  } shells[] = {
      {"bash", kBash, "source <(hsmctl completion bash)   # or save it in "
                      "/etc/bash_completion.d/hsmctl"},
      {"zsh", kZsh, "hsmctl completion zsh > \"${fpath[1]}/_hsmctl\"   # or: source "
                    "<(hsmctl completion zsh)"},
      {"fish", kFish, "hsmctl completion fish > ~/.config/fish/completions/hsmctl.fish"},
  };
  for (const auto& s : shells) {
    auto* cmd = group->add_subcommand(s.shell, fmt::format("{} completion: commands, options and "
                                                           "their values, asked of hsmctl itself",
                                                           s.shell));
    with_example(cmd, s.example);
    cmd->callback([&cli, script = s.script] {
      cli.action = [script] {
        std::cout << script << std::flush;
        return 0;
      };
    });
  }
  // What the scripts call: not in --help, not a stable interface.
  auto words = std::make_shared<std::vector<std::string>>();
  auto* complete = group->add_subcommand("complete", "candidates for the last of WORDS");
  complete->group("");
  complete->add_option("WORDS", *words, "the words after 'hsmctl', after '--'");
  complete->callback([&cli, words] {
    cli.action = [&cli, words] {
      std::cout << complete_words(cli, *words) << std::flush;
      return 0;
    };
  });
}

}  // namespace hsm::cli
