// RFC 8785 (JCS) canonical JSON for transcript entries: one byte-exact text per value, so the
// entry hash is reproducible anywhere. Never emits floats, whitespace or invalid UTF-8, and never
// accepts a line that is not already in canonical form.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace hsm::transcript {

// Objects nested deeper than this are refused (a transcript entry is a few levels deep; the limit
// keeps a hostile line from exhausting the stack of a verifier).
inline constexpr int kMaxJsonDepth = 32;

// The RFC 8785 serialization of `value`, restricted to transcript value types: objects (members
// sorted by the UTF-16 code units of their names), arrays, strings, booleans, null and integers.
// Integers are printed as exact decimals over the whole int64/uint64 range (JCS proper goes
// through IEEE doubles, which agree only within +-2^53: keep values there if other verifiers
// must read them as numbers). Strings escape only '"', '\\' and U+0000..U+001F (\b \f \n \r \t,
// else \u00xx lowercase); everything else is raw UTF-8.
// Throws Error(usage) for a float, a binary value or nesting deeper than kMaxJsonDepth, and
// Error(integrity) for a string or member name that is not valid UTF-8.
std::string canonical_json(const nlohmann::json& value);

// Appends the RFC 8785 form of one string (quoted, escaped as above) to `out`: for writers that
// assemble an object whose member order they know. Throws Error(integrity) for invalid UTF-8.
void append_canonical_string(std::string& out, std::string_view s);

// Parses one line (without its newline) and checks that it is exactly canonical_json of what it
// parses to and that no object repeats a member name. Throws Error(integrity) otherwise.
nlohmann::json parse_canonical_line(std::string_view line);

}  // namespace hsm::transcript
