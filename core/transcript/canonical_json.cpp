// RFC 8785 canonical JSON writer and strict line reader for the transcript. Never accepts or
// produces two different texts for one value: that would let an entry change without its hash.
#include "core/transcript/canonical_json.h"

#include <algorithm>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "core/error.h"

namespace hsm::transcript {

namespace {

using nlohmann::json;

// Decodes the UTF-8 sequence at s[i], advancing i. Returns false for anything the Unicode
// standard calls ill-formed: stray continuation bytes, truncation, overlong forms, surrogates
// (U+D800..U+DFFF) and code points above U+10FFFF.
bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t len;
  char32_t min;
  if (lead < 0x80) {
    cp = lead;
    ++i;
    return true;
  } else if ((lead & 0xe0) == 0xc0) {
    len = 2, min = 0x80, cp = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    len = 3, min = 0x800, cp = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    len = 4, min = 0x10000, cp = lead & 0x07;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

[[noreturn]] void invalid_utf8() {
  fail(Category::integrity, "a transcript string is not valid UTF-8");
}

// Names without characters beyond U+FFFF (no 4-byte UTF-8 sequence) sort the same by UTF-8
// bytes as by UTF-16 code units.
bool byte_order_is_utf16_order(std::string_view name) {
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) >= 0xf0; });
}

// RFC 8785 section 3.2.3 sorts member names by their UTF-16 code units, which differs from
// UTF-8 byte order once names mix U+E000..U+FFFF with characters beyond U+FFFF.
std::u16string utf16_of(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!next_code_point(s, i, cp)) invalid_utf8();
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    }
  }
  return out;
}

// Printable ASCII other than '"' and '\\' is copied as it is, a run at a time.
bool plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t start = i;
    while (i < s.size() && plain(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) {
      out.append(s.substr(start, i - start));
      continue;
    }
    char32_t cp;
    if (!next_code_point(s, i, cp)) invalid_utf8();
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20) {
          out += "\\u00";
          out += kHex[cp >> 4];
          out += kHex[cp & 0xf];
        } else {
          out.append(s.substr(start, i - start));
        }
    }
  }
  out += '"';
}

void check_depth(int depth) {
  if (depth > kMaxJsonDepth)
    fail(Category::usage, "transcript values nest deeper than " + std::to_string(kMaxJsonDepth) +
                              " levels");
}

// `depth` counts the arrays and objects around `value`, as the parser callback's depth does.
void append_value(std::string& out, const json& value, int depth) {
  switch (value.type()) {
    case json::value_t::null: out += "null"; return;
    case json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case json::value_t::number_integer: out += std::to_string(value.get<std::int64_t>()); return;
    case json::value_t::number_unsigned: out += std::to_string(value.get<std::uint64_t>()); return;
    case json::value_t::number_float:
      fail(Category::usage, "transcript values must be integers, not floating-point numbers");
    case json::value_t::string: append_string(out, value.get_ref<const std::string&>()); return;
    case json::value_t::array: {
      check_depth(depth);
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!std::exchange(first, false)) out += ',';
        append_value(out, element, depth + 1);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      check_depth(depth);
      out += '{';
      bool first = true;
      const auto member = [&](json::const_iterator it) {
        if (!std::exchange(first, false)) out += ',';
        append_string(out, it.key());
        out += ':';
        append_value(out, it.value(), depth + 1);
      };
      bool sorted = true;
      for (auto it = value.cbegin(); it != value.cend() && sorted; ++it)
        sorted = byte_order_is_utf16_order(it.key());
      if (sorted) {
        // nlohmann keeps members in a std::map, sorted by bytes: the order wanted already.
        for (auto it = value.cbegin(); it != value.cend(); ++it) member(it);
      } else {
        std::vector<std::pair<std::u16string, json::const_iterator>> members;
        members.reserve(value.size());
        for (auto it = value.cbegin(); it != value.cend(); ++it)
          members.emplace_back(utf16_of(it.key()), it);
        std::sort(members.begin(), members.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [name, it] : members) member(it);
      }
      out += '}';
      return;
    }
    case json::value_t::binary:
      fail(Category::usage, "transcript values cannot be binary: encode bytes as hex or base64");
    case json::value_t::discarded:
      break;
  }
  fail(Category::usage, "a transcript value has no JSON form");
}

}  // namespace

void append_canonical_string(std::string& out, std::string_view s) { append_string(out, s); }

std::string canonical_json(const json& value) {
  std::string out;
  append_value(out, value, 0);
  return out;
}

namespace {

// The most arrays and objects open at once in `line`, counting only brackets outside strings:
// exact for valid JSON and for the valid beginning of anything else.
int nesting(std::string_view line) {
  int open = 0, most = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      most = std::max(most, ++open);
    } else if (c == '}' || c == ']') {
      --open;
    }
  }
  return most;
}

// The usual case, a good line, the quick way: without a parser callback and its per-object
// name sets. A repeated member name cannot survive it (nlohmann keeps one of the two, so the
// re-serialization is shorter than the line). Anything it does not accept goes the slow way,
// which finds the same value or says exactly what is wrong.
std::optional<json> parse_good_line(std::string_view line) {
  if (nesting(line) > kMaxJsonDepth) return std::nullopt;
  try {
    json value = json::parse(line.begin(), line.end());
    if (canonical_json(value) == line) return value;
  } catch (const json::exception&) {
  } catch (const Error&) {
  }
  return std::nullopt;
}

}  // namespace

json parse_canonical_line(std::string_view line) {
  if (std::optional<json> value = parse_good_line(line)) return std::move(*value);
  // nlohmann keeps the last of two equal member names without a word, so track names per open
  // object; the callback also bounds nesting before a deep line can reach the serializer.
  std::vector<std::set<std::string>> open_objects;
  const auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > kMaxJsonDepth)
          fail(Category::integrity, "transcript line nests deeper than " +
                                        std::to_string(kMaxJsonDepth) + " levels");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second)
          fail(Category::integrity, "transcript line repeats a member name within one object");
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      default:
        break;
    }
    return true;
  };

  json value;
  try {
    value = json::parse(line.begin(), line.end(), check);
  } catch (const json::exception& e) {
    fail(Category::integrity, "transcript line is not valid JSON", e.what());
  }
  std::string again;
  try {
    again = canonical_json(value);
  } catch (const Error& e) {
    fail(Category::integrity, std::string("transcript line is not canonical JSON: ") + e.what());
  }
  if (again != line)
    fail(Category::integrity,
         "transcript line is not canonical JSON (RFC 8785: sorted members, no whitespace, "
         "minimal escapes)");
  return value;
}

}  // namespace hsm::transcript
