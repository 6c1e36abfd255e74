// Every command's --help, read as a new user reads it: it ends with the global options and the
// exit codes, has no doubled words ("the the"), and its examples name the command itself and
// use only options that command (or hsmctl itself) lists.
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

std::vector<std::string> help_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string help_of(const std::vector<std::string>& path) {
  std::vector<std::string> argv{HSMCTL_BINARY};
  argv.insert(argv.end(), path.begin(), path.end());
  argv.push_back("--help");
  const RunResult r = run_program(argv);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

// The names in the "Subcommands:" section of a help text.
std::vector<std::string> help_subcommands(const std::string& help) {
  std::vector<std::string> out;
  bool on = false;
  for (const auto& l : help_lines(help)) {
    if (l == "Subcommands:") {
      on = true;
    } else if (on && l.empty()) {
      break;
    } else if (on && l.size() > 2 && l[0] == ' ' && l[2] != ' ') {
      out.push_back(l.substr(2, l.find(' ', 2) - 2));
    }
  }
  return out;
}

// Every command path with its help text, depth first.
void walk_help(const std::vector<std::string>& path,
          std::vector<std::pair<std::vector<std::string>, std::string>>& out) {
  const std::string help = help_of(path);
  out.emplace_back(path, help);
  for (const auto& sub : help_subcommands(help)) {
    auto next = path;
    next.push_back(sub);
    walk_help(next, out);
  }
}

// The hsmctl command lines of the examples of a help text (after "Example:").
std::vector<std::string> help_examples(const std::string& help) {
  std::vector<std::string> out;
  bool on = false;
  for (const auto& l : help_lines(help)) {
    if (l.rfind("Example", 0) == 0) {
      on = true;
      continue;
    }
    const std::size_t start = l.find_first_not_of(' ');
    if (on && (start == std::string::npos || start == 0)) break;
    // "hsmctl ..." or a shell line that runs it ("source <(hsmctl completion bash)").
    const std::size_t at = l.find("hsmctl ");
    if (on && at != std::string::npos) {
      std::string ex = l.substr(at);
      ex = ex.substr(0, ex.find(')'));
      out.push_back(ex);
    }
  }
  return out;
}

// The first "word word" (lower-case words one space apart, whole words) or "the that" in
// `text`, or "" (no std::regex: GCC 12 warns inside it in the sanitizer build).
std::string doubled_words(const std::string& text) {
  const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  const auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::pair<std::size_t, std::size_t>> words;  // [begin, end) of each word
  for (std::size_t i = 0; i < text.size();) {
    if (!alpha(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && alpha(text[j])) ++j;
    words.emplace_back(i, j);
    i = j;
  }
  for (std::size_t w = 1; w < words.size(); ++w) {
    const auto [a0, a1] = words[w - 1];
    const auto [b0, b1] = words[w];
    if (b0 != a1 + 1 || text[a1] != ' ') continue;
    const std::string first = text.substr(a0, a1 - a0), second = text.substr(b0, b1 - b0);
    const bool all_lower = std::all_of(first.begin(), first.end(), lower);
    if ((all_lower && first == second) || ((first == "the" || first == "The") && second == "that"))
      return first + " " + second;
  }
  return {};
}

TEST(Help, EveryCommandShowsGlobalOptionsAndExitCodesWithoutDoubledWords) {
  std::vector<std::pair<std::vector<std::string>, std::string>> all;
  walk_help({}, all);
  ASSERT_GT(all.size(), 40u);
  // Lower-case words one space apart: CLI11 itself prints "--dir DIR", "TEXT TEXT" for a
  // positional and "user   user signing keys" in a command list.
  for (const auto& [path, help] : all) {
    std::string name = "hsmctl";
    for (const auto& p : path) name += " " + p;
    SCOPED_TRACE(name);
    EXPECT_NE(help.find("Exit codes: 0 ok, 1 error, 2 usage"), std::string::npos) << help;
    if (!path.empty()) {
      EXPECT_NE(help.find("Global options (--module, --token, --dir, --pin-source, --json, "
                          "--yes)"), std::string::npos) << help;
    }
    const std::string d = doubled_words(help);
    EXPECT_TRUE(d.empty()) << "'" << d << "' in:\n" << help;
  }
}

TEST(Help, ExamplesRunRealCommandsWithOnlyTheirOptions) {
  std::vector<std::pair<std::vector<std::string>, std::string>> all;
  walk_help({}, all);
  std::map<std::string, std::string> help_by_command;  // "master init" -> its help
  for (const auto& [path, help] : all) {
    std::string key;
    for (const auto& p : path) key += (key.empty() ? "" : " ") + p;
    help_by_command[key] = help;
  }
  const std::string& global = help_by_command[""];
  auto lists = [](const std::string& help, const std::string& opt) {
    return help.find("  " + opt + " ") != std::string::npos ||
           help.find("  " + opt + "\n") != std::string::npos;
  };
  std::size_t checked = 0;
  for (const auto& [path, help] : all) {
    std::string own;
    for (const auto& p : path) own += (own.empty() ? "" : " ") + p;
    const auto lines = help_examples(help);
    if (path.size() == 2) {
      EXPECT_FALSE(lines.empty()) << "'hsmctl " << own << "' has no example";
    }
    for (std::size_t n = 0; n < lines.size(); ++n) {
      SCOPED_TRACE(lines[n]);
      std::istringstream in(lines[n].substr(0, lines[n].find('#')));
      std::vector<std::string> words, command;
      for (std::string w; in >> w;) words.push_back(w);
      // The command it runs: the words that are not options (global options take a value).
      for (std::size_t i = 1; i < words.size() && command.size() < 2; ++i) {
        if (words[i].rfind("--", 0) == 0) {
          if (words[i] == "--dir" || words[i] == "--token" || words[i] == "--module" ||
              words[i] == "--pin-source")
            ++i;
          continue;
        }
        command.push_back(words[i]);
      }
      std::string key = command.empty() ? "" : command[0];
      if (command.size() == 2 && help_by_command.count(key + " " + command[1]) != 0)
        key += " " + command[1];
      ASSERT_TRUE(help_by_command.count(key) != 0) << "runs no hsmctl command";
      if (n == 0) {
        EXPECT_EQ(key, own) << "the first example runs another command";
      }
      const std::string& cmd_help = help_by_command[key];
      for (const auto& w : words) {
        if (w.rfind("--", 0) != 0 || w == "--") continue;
        const std::string opt = w.substr(0, w.find('='));
        EXPECT_TRUE(lists(cmd_help, opt) || lists(global, opt))
            << opt << " is not an option of 'hsmctl " << key << "':\n" << cmd_help;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 30u);
}

}  // namespace
}  // namespace hsm::test
