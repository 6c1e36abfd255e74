// Escaping for every human-readable output: control characters (C0, DEL, C1), bidirectional
// controls and bytes that are not UTF-8 become visible escapes (ESC is shown as \x1b), so a name,
// a CSV field or an actor can never move the cursor, hide text or reorder a line on an auditor's
// terminal. JSON output needs none of this (its encoder escapes); text output must use it.
#pragma once

#include <string>
#include <string_view>

namespace hsm {

// One field or one line: every control character is escaped, line feeds and tabs included.
std::string printable(std::string_view text);

// A block of lines (a table, a report): as printable(), but line feeds and tabs stay.
std::string printable_lines(std::string_view text);

// True when printable(text) == text.
bool is_printable(std::string_view text);

}  // namespace hsm
