// Usage errors as people expect them: a mistyped command or option is named, with the closest
// real one ("did you mean 'init'?") and the --help of the command it was typed for; and the
// footer every command's --help ends with (global options, exit codes). Never parses argv
// itself: it reads what CLI11 parsed and left over.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "cmd/cli.h"

namespace hsm::cli {

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
// of neighbours ("inti" -> "init" is 1).
std::size_t typo_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// "hsmctl master init" for the app of `master init`.
std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent())
    path = app->get_parent() == nullptr ? "hsmctl" + path : " " + app->get_name() + path;
  return path;
}

// The deepest command the words on the command line chose.
const CLI::App* chosen_command(const CLI::App& root) {
  const CLI::App* app = &root;
  for (auto subs = app->get_subcommands(); !subs.empty(); subs = app->get_subcommands())
    app = subs.front();
  return app;
}

std::vector<std::string> subcommand_names(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

// Long option names ("--threshold") of `app` and of every command above it (whose options,
// the global ones included, are accepted after it).
std::vector<std::string> accepted_options(const CLI::App* app) {
  std::vector<std::string> names;
  for (; app != nullptr; app = app->get_parent())
    for (const CLI::Option* o : app->get_options())
      for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  return names;
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

}  // namespace

// One punctuation style for every error line, whoever wrote the message (hsmctl, a library,
// CLI11): it starts in lower case unless its first word is a name ("SoftHSM", "PIN") and ends
// without a full stop.
std::string one_style(std::string m) {
  std::size_t word = 0;
  while (word < m.size() && std::isalpha(static_cast<unsigned char>(m[word])) != 0) ++word;
  bool plain = word > 1 && std::isupper(static_cast<unsigned char>(m[0])) != 0;
  for (std::size_t i = 1; plain && i < word; ++i)
    plain = std::islower(static_cast<unsigned char>(m[i])) != 0;
  if (plain && (word == m.size() || std::isalnum(static_cast<unsigned char>(m[word])) == 0))
    m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  while (!m.empty() && (m.back() == '.' || m.back() == ' ' || m.back() == '\n')) m.pop_back();
  return m;
}

std::string closest_name(const std::string& typed, const std::vector<std::string>& names) {
  std::string best;
  std::size_t best_distance = 0;
  for (const auto& n : names) {
    std::size_t dist = typo_distance(typed, n);
    if (typed.size() >= 3 && n.rfind(typed, 0) == 0) dist = 1;  // an abbreviation
    if (best.empty() || dist < best_distance) {
      best = n;
      best_distance = dist;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(1, std::min<std::size_t>(2, typed.size() / 3));
  return !best.empty() && best_distance <= allowed ? best : std::string();
}

std::string usage_error_message(const CLI::App& root, const CLI::ParseError& e) {
  const CLI::App* app = chosen_command(root);
  const std::string help = fmt::format("see '{} --help'", command_path(app));
  const auto left = root.remaining(true);
  if (!left.empty()) {
    const std::string& word = left.front();
    if (word.size() > 1 && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      const std::string guess = closest_name(name, accepted_options(app));
      return guess.empty()
                 ? fmt::format("unknown option '{}' for '{}'; {}", name, command_path(app), help)
                 : fmt::format("unknown option '{}'; did you mean '{}'? {}", name, guess, help);
    }
    const auto subs = subcommand_names(app);
    if (!subs.empty()) {
      const std::string guess = closest_name(word, subs);
      return guess.empty()
                 ? fmt::format("unknown command '{}'; '{}' has {}; {}", word, command_path(app),
                               joined_names(subs), help)
                 : fmt::format("unknown command '{}'; did you mean '{}'? {}", word, guess, help);
    }
    return fmt::format("unexpected argument '{}' for '{}'; {}", word, command_path(app), help);
  }
  if (e.get_name() == "RequiredError" && std::string(e.what()) == "A subcommand is required")
    return fmt::format("'{}' needs a command: {}; {}", command_path(app),
                       joined_names(subcommand_names(app)), help);
  std::string what = e.what();
  while (!what.empty() && (what.back() == '.' || what.back() == ' ')) what.pop_back();
  return fmt::format("{}; {}", what, help);
}

void add_help_footers(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    add_help_footers(*sub);
    const std::string own = sub->get_footer();
    sub->footer((own.empty() ? "" : own + "\n") +
                "Global options (--module, --token, --dir, --pin-source, --json, --yes) go before\n"
                "or after the command; see 'hsmctl --help'.\n" + kExitCodes);
  }
}

}  // namespace hsm::cli
