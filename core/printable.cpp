// Visible escapes for control, bidi and non-UTF-8 bytes in text meant for a terminal.
#include "core/printable.h"

#include <fmt/format.h>

#include <cstdint>

namespace hsm {

namespace {

// Length of the valid UTF-8 sequence at s[i] and its code point; 0 when it is not one.
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
  const std::uint8_t c = b(0);
  std::size_t n = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

// Code points that reorder or hide text, or break a line, without being C0/C1 controls.
bool is_format_control(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

std::string escape_for_terminal(std::string_view s, bool keep_lines) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_at(s, i, cp);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<std::uint8_t>(s[i]));
      ++i;
      continue;
    }
    const bool line = keep_lines && (cp == '\n' || cp == '\t');
    if (!line && (cp < 0x20 || cp == 0x7F)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    } else if (!line && ((cp >= 0x80 && cp <= 0x9F) || is_format_control(cp))) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace

std::string printable(std::string_view text) { return escape_for_terminal(text, false); }

std::string printable_lines(std::string_view text) { return escape_for_terminal(text, true); }

bool is_printable(std::string_view text) { return printable(text) == text; }

}  // namespace hsm
