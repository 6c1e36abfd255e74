// Share entry at the terminal. The words of a share are secret: they are shown only on the
// custodian's terminal (a mistyped word with its suggestion, or the numbered words on request),
// and the text lives in Secrets only. Word boundaries are found by scanning characters here,
// but only after a mistake: a share typed right goes straight to the constant-time parser.
#include "cmd/share_entry.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/secure/secret_source.h"
#include "core/shamir/mnemonic_text.h"
#include "core/shamir/slip39.h"
#include "core/shamir/word_suggest.h"

namespace hsm::cli {

namespace {

constexpr const char* kClearScreen = "\033[2J\033[3J\033[H";

bool separator(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// (offset, length) of each word of `text`.
std::vector<std::pair<std::size_t, std::size_t>> word_spans(const Secret& text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || separator(text.data()[i])) {
      if (i > start) out.emplace_back(start, i - start);
      start = i + 1;
    }
  }
  return out;
}

std::string_view word_of(const Secret& text, std::size_t number) {
  const auto spans = word_spans(text);
  if (number == 0 || number > spans.size()) return {};
  return text.chars().substr(spans[number - 1].first, spans[number - 1].second);
}

// `text` with its words joined by single spaces and word `number` (1-based) replaced by `with`.
Secret with_word(const Secret& text, std::size_t number, const Secret& with) {
  const auto spans = word_spans(text);
  std::size_t size = spans.size();
  for (std::size_t i = 0; i < spans.size(); ++i)
    size += i + 1 == number ? with.size() : spans[i].second;
  Secret out(size);
  std::size_t at = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out.data()[at++] = ' ';
    const std::uint8_t* from = i + 1 == number ? with.data() : text.data() + spans[i].first;
    const std::size_t n = i + 1 == number ? with.size() : spans[i].second;
    std::memcpy(out.data() + at, from, n);
    at += n;
  }
  return out.prefix(at);
}

// A number of words some share has: 4 header words, the value's words, 3 checksum words.
bool share_length(std::size_t words) {
  for (std::size_t bytes = slip39::kMinSecretBytes; bytes <= slip39::kMaxSecretBytes; bytes += 2)
    if (7 + (8 * bytes + 9) / 10 == words) return true;
  return false;
}

// Names a word that is not in the list, and the nearest one that is, on the terminal.
void name_unknown_word(std::size_t number, std::string_view typed) {
  const slip39::Suggestion s = slip39::nearest_word(typed);
  write_terminal(fmt::format("word {} '", number));
  write_terminal(typed);
  if (s.distance <= slip39::kSuggestDistance) {
    write_terminal("': did you mean '");
    write_terminal(s.word);
    write_terminal("'?\n");
  } else {
    write_terminal("' is not a SLIP-0039 word, and no word of the list is close to it.\n");
  }
}

// Shows the typed words, numbered, until Enter; then clears the screen and scrollback.
void show_words(const Secret& text) {
  const auto spans = word_spans(text);
  write_terminal("\nThe words you typed (only you may look):\n");
  for (std::size_t i = 0; i < spans.size(); ++i) {
    write_terminal(fmt::format("{:>3}. ", i + 1));
    write_terminal(text.chars().substr(spans[i].first, spans[i].second));
    write_terminal(i % 4 == 3 || i + 1 == spans.size()
                       ? std::string_view("\n")
                       : std::string_view("          ").substr(0, 10 - std::min<std::size_t>(
                                                                      spans[i].second, 9)));
  }
  prompt_visible("\nPress Enter to hide them.");
  write_terminal(kClearScreen);
}

std::size_t parse_number(std::string_view s) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && end == s.data() + s.size() ? n : 0;
}

enum class Mend { mended, retype };

// After a failed check: the custodian picks a word to type again (or asks to see the words).
Mend mend_by_number(Secret& text, std::size_t words) {
  for (;;) {
    const Secret answer = prompt_visible(fmt::format(
        "Type the number of a word to type it again (1-{}), 'show' to see the words you typed, "
        "or press Enter to type the whole share again: ", words));
    if (answer.empty()) return Mend::retype;
    if (answer.chars() == "show") {
      show_words(text);
      continue;
    }
    const std::size_t n = parse_number(answer.chars());
    if (n == 0 || n > words) continue;
    Secret again = prompt_hidden(fmt::format("Word {}: ", n));
    if (again.empty()) continue;
    text = with_word(text, n, again);
    return Mend::mended;
  }
}

}  // namespace

Secret type_share(std::string_view prompt) {
  Secret text = prompt_hidden(prompt);
  auto retype = [&] {
    text = prompt_hidden("Type the whole share again (empty line to stop): ");
    return !text.empty();
  };
  while (!text.empty()) {
    std::size_t words = 0;
    try {
      words = slip39::words_from_text(text.chars()).size();
    } catch (const slip39::UnknownWordError& e) {
      name_unknown_word(e.position(), word_of(text, e.position()));
      Secret again = prompt_hidden(fmt::format("Type word {} again (empty line: type the whole "
                                               "share again): ", e.position()));
      if (again.empty()) {
        if (!retype()) break;
      } else {
        text = with_word(text, e.position(), again);
      }
      continue;
    } catch (const Error& e) {
      write_terminal(fmt::format("{}\n", e.what()));
      if (!retype()) break;
      continue;
    }
    if (!share_length(words)) {
      write_terminal(fmt::format("You typed {} words, but a share has 20, 33 (hsmctl's "
                                 "custodian shares) or 59 words, or another length of the "
                                 "SLIP-0039 table; a word is missing or extra.\n", words));
      if (!retype()) break;
      continue;
    }
    try {
      slip39::parse_mnemonic(text);
      return text;
    } catch (const Error& e) {
      // RS1024 detects errors but cannot say for sure which word is wrong: the parser names one
      // only when changing that single word is the one way to make the checksum good.
      write_terminal(fmt::format("This share does not check: {}\n", e.what()));
    }
    if (mend_by_number(text, words) == Mend::retype && !retype()) break;
  }
  return Secret();
}

void check_share_spelling(const Secret& mnemonic, int share_number, const std::string& origin) {
  try {
    slip39::words_from_text(mnemonic.chars());
  } catch (const slip39::UnknownWordError& e) {
    const std::string_view typed = word_of(mnemonic, e.position());
    const slip39::Suggestion s = slip39::nearest_word(typed);
    fail(Category::integrity,
         fmt::format("word {} '{}' of share {} in '{}' is not a SLIP-0039 word{}", e.position(),
                     typed, share_number, origin,
                     s.distance <= slip39::kSuggestDistance
                         ? fmt::format("; did you mean '{}'?", s.word)
                         : std::string("; correct it from the written share")));
  }
}

}  // namespace hsm::cli
