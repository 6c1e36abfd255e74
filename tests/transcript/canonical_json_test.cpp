// RFC 8785 canonical JSON: the RFC's ordering and escaping examples, integer extremes, and the
// whole refusal contract of the writer and of the strict line reader in two tables.
#include "core/transcript/canonical_json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace hsm::transcript {
namespace {

using nlohmann::json;

TEST(CanonicalJson, SortsMembersByUtf16CodeUnitsAsRfc8785Section323) {
  // Input as in the RFC; U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 even
  // though it comes after it in UTF-8 byte order.
  const json value = json::parse(R"({
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    })");
  EXPECT_EQ(canonical_json(value),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\","
            "\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\","
            "\"\U0001F600\":\"Emoji: Grinning Face\","
            "\"\uFB33\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST(CanonicalJson, SortsNamesWithinTheBasicPlaneByCodePoint) {
  // No name beyond U+FFFF: UTF-8 byte order is the UTF-16 order, whatever the script.
  const json value = {{"\ufb33", 4}, {"\u20ac", 3}, {"b", 1}, {"\u0080", 2}, {"B", 0}};
  EXPECT_EQ(canonical_json(value),
            "{\"B\":0,\"b\":1,\"\u0080\":2,\"\u20ac\":3,\"\uFB33\":4}");
  const json bad_name = {{"ok", 1}, {"n\xe2\x82", 2}};
  EXPECT_THROW(canonical_json(bad_name), Error);
}

TEST(CanonicalJson, EscapesStringsAsRfc8785Section3222) {
  const json value = json::parse(R"("\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/")");
  EXPECT_EQ(canonical_json(value), "\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"");
}

TEST(CanonicalJson, EscapesOnlyQuoteBackslashAndControls) {
  const json value = "\b\f\n\r\t\x01\x1f \x7f\u2028/<>&'\U0001F600";
  EXPECT_EQ(canonical_json(value),
            "\"\\b\\f\\n\\r\\t\\u0001\\u001f \x7f\u2028/<>&'\U0001F600\"");
  EXPECT_EQ(canonical_json(std::string("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(CanonicalJson, WritesNestedValuesWithoutWhitespace) {
  const json value = {{"seq", 7},
                      {"data", {{"z", json::array({true, false, nullptr})}, {"a", json::object()}}},
                      {"actor", "alice"},
                      {"empty", json::array()}};
  EXPECT_EQ(canonical_json(value),
            R"({"actor":"alice","data":{"a":{},"z":[true,false,null]},"empty":[],"seq":7})");
}

TEST(CanonicalJson, PrintsIntegerExtremesExactly) {
  EXPECT_EQ(canonical_json(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(canonical_json(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");
  EXPECT_EQ(canonical_json(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(canonical_json(0), "0");
  EXPECT_EQ(canonical_json(-1), "-1");
  const std::string line = R"({"max":18446744073709551615,"min":-9223372036854775808})";
  EXPECT_EQ(canonical_json(parse_canonical_line(line)), line);
}

TEST(CanonicalJson, WriterRefusals) {
  json too_deep = json::array();
  for (int i = 0; i < kMaxJsonDepth + 1; ++i) too_deep = json::array({too_deep});
  const struct {
    const char* name;
    json value;
    Category category;
  } cases[] = {
      {"float", 1.5, Category::usage},
      {"integral float", 2.0, Category::usage},
      {"float in array", json::array({1, 0.25}), Category::usage},
      {"float in object", {{"a", {{"b", 1e300}}}}, Category::usage},
      {"binary", json::binary({1, 2, 3}), Category::usage},
      {"too deep", too_deep, Category::usage},
      {"bad lead byte", "\xff", Category::integrity},
      {"lone continuation", "a\x80", Category::integrity},
      {"overlong NUL", "\xc0\x80", Category::integrity},
      {"overlong slash", "\xe0\x80\xaf", Category::integrity},
      {"surrogate", "\xed\xa0\x80", Category::integrity},
      {"above U+10FFFF", "\xf4\x90\x80\x80", Category::integrity},
      {"truncated", "\xe2\x82", Category::integrity},
      {"bad member name", {{"\xfe", 1}}, Category::integrity},
  };
  for (const auto& c : cases) {
    try {
      canonical_json(c.value);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), c.category) << c.name << ": " << e.what();
    }
  }
}

TEST(CanonicalJson, FloatMessageSaysIntegersOnly) {
  try {
    canonical_json(json{{"x", 0.5}});
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("transcript values must be integers"), std::string::npos);
  }
}

TEST(CanonicalLine, ReadsCanonicalLines) {
  const std::string line =
      R"({"actor":"alice","data":{"n":[1,-2,{"k":"\u001f\n"}]},"ok":true,"seq":0,"z":null})";
  const json value = parse_canonical_line(line);
  EXPECT_EQ(value["actor"], "alice");
  EXPECT_EQ(value["data"]["n"][2]["k"], "\x1f\n");
  EXPECT_EQ(canonical_json(value), line);
  EXPECT_NO_THROW(parse_canonical_line(R"({"a":{"x":1},"b":{"x":2}})"));  // same name, two objects
}

TEST(CanonicalLine, DepthLimitIsTheWritersLimit) {
  std::string ok = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_NO_THROW(parse_canonical_line(ok));
  EXPECT_NO_THROW(canonical_json(json::parse(ok)));
}

TEST(CanonicalLine, ReaderRefusals) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string cases[] = {
      R"({"a": 1})",                  // whitespace
      R"( {"a":1})",                  // leading space
      "{\"a\":1}\n",                  // the newline is the caller's
      "\xef\xbb\xbf{\"a\":1}",        // byte order mark
      R"({"b":1,"a":2})",             // unsorted
      R"({"a":"\u0041"})",            // needless escape
      R"({"a":"\/"})",                // needless escape
      R"({"a":"\u001F"})",            // uppercase hex
      R"({"a":"\u00e9"})",            // non-ASCII must be raw
      R"({"a":1.0})",                 // float
      R"({"a":1e2})",                 // float
      R"({"a":-0})",                  // negative zero
      R"({"a":18446744073709551616})",  // beyond uint64: read as a float
      R"({"a":-9223372036854775809})",  // beyond int64
      R"({"a":1,"a":1})",             // repeated member name
      R"({"a":{"b":1,"b":2}})",       // repeated member name, nested
      R"({"a":01})",                  // not JSON
      "{\"a\":\"\xff\"}",             // invalid UTF-8
      "{\"a\":\"\xed\xa0\x80\"}",     // encoded surrogate
      R"({"a":"\ud800"})",            // lone surrogate escape
      R"({"a":1)",                    // truncated
      "",                             // empty
      deep,                           // nesting bomb
  };
  for (const auto& line : cases) {
    try {
      parse_canonical_line(line);
      ADD_FAILURE() << line.substr(0, 60) << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::integrity) << line.substr(0, 60) << ": " << e.what();
    }
  }
}

TEST(CanonicalLine, NamesRepeatedMembers) {
  try {
    parse_canonical_line(R"({"a":1,"a":1})");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("repeats a member name"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hsm::transcript
