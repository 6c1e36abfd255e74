// Terminal rendering of shares and typed share intake.
#include "cmd/console.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <vector>

#include "cmd/share_entry.h"
#include "core/error.h"
#include "core/secure/secret_source.h"

namespace hsm::cli {

namespace {

constexpr const char* kClear = "\033[2J\033[3J\033[H";

// Word boundaries of a mnemonic (offsets into the Secret; no copy of the words).
std::vector<std::pair<size_t, size_t>> words_of(const Secret& m) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0;
  for (size_t i = 0; i <= m.size(); ++i)
    if (i == m.size() || m.data()[i] == ' ') {
      if (i > start) out.emplace_back(start, i - start);
      start = i + 1;
    }
  return out;
}

// Clears the screen and its scrollback when show_share is left by an exception (an interrupt,
// a terminal that went away), so that no word of a share stays visible after an abort.
class ShareScreenWiper {
 public:
  ShareScreenWiper() = default;
  ~ShareScreenWiper() {
    if (std::uncaught_exceptions() <= unwinding_) return;
    try {
      write_terminal(kClear);
    } catch (...) {  // no terminal left to clear
    }
  }
  ShareScreenWiper(const ShareScreenWiper&) = delete;
  ShareScreenWiper& operator=(const ShareScreenWiper&) = delete;

 private:
  int unwinding_ = std::uncaught_exceptions();
};

}  // namespace

void TerminalConsole::show_share(const std::string& custodian, int index, int count,
                                 const Secret& mnemonic) {
  const auto words = words_of(mnemonic);
  const ShareScreenWiper wiper;
  for (;;) {
    write_terminal(kClear);
    write_terminal(fmt::format("Share {} of {}: custodian '{}'.\n\nEveryone but {} must look "
                               "away now.\n", index, count, custodian, custodian));
    for (;;) {
      const Secret typed = prompt_visible(fmt::format("{}, type your name to see your share: ",
                                                      custodian));
      if (typed.chars() == custodian) break;
    }
    write_terminal(kClear);
    write_terminal(fmt::format("Share of custodian '{}' ({} words). Write every word down, in "
                               "order:\n\n", custodian, words.size()));
    Secret screen(mnemonic.size() * 2 + words.size() * 16 + 64);
    size_t at = 0;
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string num = fmt::format("{:>3}. ", i + 1);
      std::memcpy(screen.data() + at, num.data(), num.size());
      at += num.size();
      std::memcpy(screen.data() + at, mnemonic.data() + words[i].first, words[i].second);
      at += words[i].second;
      const size_t pad = i % 4 == 3 ? 0 : 14 - std::min<size_t>(words[i].second, 13);
      std::memset(screen.data() + at, ' ', pad);
      at += pad;
      screen.data()[at++] = i % 4 == 3 ? '\n' : ' ';
    }
    screen.data()[at++] = '\n';
    write_terminal(screen.chars().substr(0, at));
    prompt_visible("\nPress Enter when the share is written down.");
    write_terminal(kClear);
    // Two random words typed back prove the paper copy is readable.
    bool ok = true;
    const size_t first = randombytes_uniform(static_cast<uint32_t>(words.size()));
    // The second word is a different one: first + 1 .. first + n - 1, modulo n.
    const size_t second =
        (first + 1 + randombytes_uniform(static_cast<uint32_t>(words.size() - 1))) % words.size();
    for (const size_t w : {first, second}) {
      if (!ok) break;
      const Secret typed = prompt_hidden(fmt::format("{}, type word {} of your share: ", custodian, w + 1));
      ok = typed.size() == words[w].second &&
           sodium_memcmp(typed.data(), mnemonic.data() + words[w].first, typed.size()) == 0;
    }
    if (ok) break;
    write_terminal("That word does not match. The share is shown again; check the paper copy.\n");
    prompt_visible("Press Enter to continue.");
  }
  write_terminal(kClear);
}

namespace {
std::function<ShareIntake()>& remote_intake() {
  static std::function<ShareIntake()> make;
  return make;
}
}  // namespace

void set_remote_intake(std::function<ShareIntake()> make) { remote_intake() = std::move(make); }

ShareIntake share_intake(const std::vector<std::string>& files) {
  if (remote_intake()) {
    if (!files.empty())
      fail(Category::usage, "'quorum request' takes the shares from remote approvals; remove "
                            "--shares-file from the command");
    return remote_intake()();
  }
  ShareIntake in;
  in.files = files;
  // A misspelt word in a file is named here, with its suggestion, before any ceremony begins
  // (so before a PIN is asked, and never in the transcript).
  for (const auto& f : files) {
    int n = 0;
    for (const Secret& m : read_share_files({f})) check_share_spelling(m, ++n, f);
  }
  if (files.empty()) {
    in.on_share = [](bool ok, const std::string& what) {
      write_terminal(ok ? fmt::format("Share of custodian '{}' accepted.\n", what)
                        : fmt::format("Share refused: {} Type it again.\n",
                                      !what.empty() && what.back() == '.' ? what : what + "."));
    };
    in.prompt = [](int i) {
      return type_share(fmt::format("Custodian {}: type your share (words separated by spaces; "
                                    "the first four letters of each are enough; empty line to "
                                    "stop): ", i));
    };
  }
  return in;
}

}  // namespace hsm::cli
