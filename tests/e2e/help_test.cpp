// Every command's --help, read as a new user reads it: it ends with the global options and the
// exit codes, has no doubled words ("the the"), and its examples name the command itself and
// use only options that command (or hsmctl itself) lists.
#include <regex>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
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
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> out;
  bool on = false;
  for (const auto& l : lines_of(help)) {
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
void walk(const std::vector<std::string>& path,
          std::vector<std::pair<std::vector<std::string>, std::string>>& out) {
  const std::string help = help_of(path);
  out.emplace_back(path, help);
  for (const auto& sub : subcommands(help)) {
    auto next = path;
    next.push_back(sub);
    walk(next, out);
  }
}

// The example command lines of a help text ("hsmctl ..." after "Example:").
std::vector<std::string> examples(const std::string& help) {
  std::vector<std::string> out;
  bool on = false;
  for (const auto& l : lines_of(help)) {
    if (l.rfind("Example", 0) == 0) {
      on = true;
      continue;
    }
    const std::size_t start = l.find_first_not_of(' ');
    if (on && (start == std::string::npos || start == 0)) break;
    if (on && l.compare(start, 7, "hsmctl ") == 0) out.push_back(l.substr(start));
  }
  return out;
}

TEST(Help, EveryCommandShowsGlobalOptionsAndExitCodesWithoutDoubledWords) {
  std::vector<std::pair<std::vector<std::string>, std::string>> all;
  walk({}, all);
  ASSERT_GT(all.size(), 40u);
  const std::regex doubled(R"(\b(\w+)\s+\1\b|\bthe that\b)", std::regex::icase);
  for (const auto& [path, help] : all) {
    std::string name = "hsmctl";
    for (const auto& p : path) name += " " + p;
    SCOPED_TRACE(name);
    EXPECT_NE(help.find("Exit codes: 0 ok, 1 error, 2 usage"), std::string::npos) << help;
    if (!path.empty())
      EXPECT_NE(help.find("Global options (--module, --token, --dir, --pin-source, --json, "
                          "--yes)"), std::string::npos) << help;
    std::smatch m;
    EXPECT_FALSE(std::regex_search(help, m, doubled)) << "'" << m.str() << "' in:\n" << help;
  }
}

TEST(Help, ExamplesNameTheirCommandAndUseOnlyItsOptions) {
  std::vector<std::pair<std::vector<std::string>, std::string>> all;
  walk({}, all);
  const std::string global = all.front().second;
  std::size_t checked = 0;
  for (const auto& [path, help] : all) {
    for (const auto& ex : examples(help)) {
      SCOPED_TRACE(ex);
      std::istringstream in(ex.substr(0, ex.find('#')));
      std::vector<std::string> words;
      for (std::string w; in >> w;) words.push_back(w);
      // The command's words appear in order (global options and their values may come between).
      std::size_t at = 1;
      for (const auto& p : path) {
        while (at < words.size() && words[at] != p) ++at;
        EXPECT_LT(at, words.size()) << "the example does not run '" << p << "'";
        ++at;
      }
      for (const auto& w : words) {
        if (w.rfind("--", 0) != 0 || w == "--") continue;
        const std::string opt = w.substr(0, w.find('='));
        const bool listed = help.find("  " + opt + " ") != std::string::npos ||
                            help.find("  " + opt + "\n") != std::string::npos ||
                            global.find("  " + opt + " ") != std::string::npos ||
                            global.find("  " + opt + "\n") != std::string::npos;
        EXPECT_TRUE(listed) << opt << " is not an option of this command:\n" << help;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 30u);
}

}  // namespace
}  // namespace hsm::test
