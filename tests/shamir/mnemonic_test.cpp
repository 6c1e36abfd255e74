// Mnemonic text <-> share: round trips, tolerated spellings, and the whole failure contract of
// parse_mnemonic and to_mnemonic in one table each.
#include "core/shamir/mnemonic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/shamir/mnemonic_text.h"
#include "core/shamir/rs1024.h"
#include "tests/shamir/fixtures.h"

namespace hsm::slip39 {
namespace {

using testing::chars;
using testing::error_of;
using testing::hex;
using testing::random_secret;
using testing::text;

// SLIP-0039 vector 1 (ext = 0, 128 bits).
constexpr std::string_view kVector1 =
    "duckling enlarge academic academic agency result length solution fridge kidney coal piece "
    "deal husband erode duke ajar critical decision keyboard";

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t end = std::min(s.find(' ', i), s.size());
    words.emplace_back(s.substr(i, end - i));
    i = end + 1;
  }
  return words;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string with_word(std::string_view mnemonic, std::size_t position, std::string word) {
  auto words = split(mnemonic);
  words.at(position - 1) = std::move(word);
  return join(words);
}

// Vector 1 with word `position` replaced by wordlist index `index` and a fresh checksum: a
// mnemonic that passes the checksum but carries whatever header or value bits we set.
std::string reforged(std::size_t position, std::uint32_t index) {
  WordIndices words = words_from_text(kVector1);
  words.set(position - 1, index);
  rs1024_write_checksum(parse_mnemonic(text(kVector1)).header.extendable, words);
  return chars(text_from_words(words));
}

TEST(Mnemonic, RoundTripsSharesOfEveryLength) {
  const std::vector<std::pair<std::size_t, std::size_t>> lengths = {
      {16, 20}, {18, 22}, {32, 33}, {64, 59}};
  std::uint32_t seed = 1;
  for (const auto& [bytes, words] : lengths) {
    for (bool extendable : {false, true}) {
      Share share{
          ShareHeader{static_cast<std::uint16_t>(0x7FFF - seed), extendable, 15, 14, 3, 15, 15, 16},
          random_secret(bytes, seed++)};
      const Secret mnemonic = to_mnemonic(share);
      EXPECT_EQ(split(chars(mnemonic)).size(), words);
      const Share parsed = parse_mnemonic(mnemonic);
      EXPECT_EQ(parsed.header, share.header);
      EXPECT_EQ(hex(parsed.value), hex(share.value));
    }
  }
}

TEST(Mnemonic, ReproducesTheVectorText) {
  EXPECT_EQ(chars(to_mnemonic(parse_mnemonic(text(kVector1)))), kVector1);
}

TEST(Mnemonic, AcceptsAnyLetterCaseAndWhitespace) {
  std::string messy =
      "  DUCKLING\tEnlarge\n\nacademic   academic" +
      std::string(kVector1.substr(std::string_view("duckling enlarge academic academic").size())) +
      "\r\n";
  const Share a = parse_mnemonic(text(kVector1));
  const Share b = parse_mnemonic(text(messy));
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(hex(a.value), hex(b.value));
}

TEST(Mnemonic, AcceptsFourLetterPrefixesOfEveryWord) {
  std::string four, mixed;
  int n = 0;
  for (const auto& w : split(kVector1)) {
    four += (four.empty() ? "" : " ") + w.substr(0, 4);
    mixed += (mixed.empty() ? "" : " ") + w.substr(0, 4 + n++ % (w.size() - 3));
  }
  const Share a = parse_mnemonic(text(kVector1));
  for (const std::string& typed : {four, mixed}) {
    SCOPED_TRACE(typed);
    const Share b = parse_mnemonic(text(typed));
    EXPECT_EQ(a.header, b.header);
    EXPECT_EQ(hex(a.value), hex(b.value));
  }
}

TEST(Mnemonic, DecodesTheHeaderOfVector1) {
  const Share share = parse_mnemonic(text(kVector1));
  EXPECT_FALSE(share.header.extendable);
  EXPECT_EQ(share.header.iteration_exponent, 0);
  EXPECT_EQ(share.header.group_threshold, 1);
  EXPECT_EQ(share.header.group_count, 1);
  EXPECT_EQ(share.header.member_threshold, 1);
  EXPECT_EQ(share.value.size(), 16u);
}

TEST(Mnemonic, ParseFailureContract) {
  std::string sixty;
  for (int i = 0; i < 60; ++i) sixty += "academic ";
  const auto words = split(kVector1);
  struct Case {
    std::string name;
    std::string mnemonic;
    std::string reason;        // fragment of the message
    std::size_t unknown_word;  // expected UnknownWordError::position(), 0 for other errors
  };
  const std::vector<Case> cases = {
      {"empty", "", "has 0 words", 0},
      {"19 words", join({words.begin(), words.end() - 1}), "has 19 words", 0},
      {"21 words", std::string(kVector1) + " academic", "not the length of any share", 0},
      {"60 words", sixty, "at most 59", 0},
      {"too long", std::string(5000, ' '), "longer than 4096", 0},
      {"mistyped word", with_word(kVector1, 5, "agncy"), "Word 5 ", 5},
      {"nine letters", with_word(kVector1, 3, "academics"), "Word 3 ", 3},
      {"a digit", with_word(kVector1, 1, "duck1ing"), "Word 1 ", 1},
      {"non-ASCII", with_word(kVector1, 20, "keyb\xC3\xB6rd"), "Word 20 ", 20},
      {"three-letter prefix", with_word(kVector1, 7, "len"), "Word 7 ", 7},
      {"prefix, then a wrong letter", with_word(kVector1, 7, "lengx"), "Word 7 ", 7},
      {"unknown and too short", "duckling enlarge acdemic", "Word 3 ", 3},
      {"last word changed", with_word(kVector1, 20, "kidney"), "checksum failed", 0},
      {"words swapped", with_word(with_word(kVector1, 6, "agency"), 5, "result"), "checksum failed",
       0},
      {"padding set", reforged(5, 0x300 | 0x18), "padding bits", 0},
      {"group threshold above count", reforged(3, 2u << 2), "groups are needed out of only", 0},
      {"group index outside", reforged(3, 1u << 6), "names group 2 out of only 1", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::size_t position = 0;
    const auto error = error_of([&] {
      try {
        parse_mnemonic(text(c.mnemonic));
      } catch (const UnknownWordError& e) {
        position = e.position();
        throw;
      }
    });
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->category(), Category::integrity);
    EXPECT_NE(std::string(error->what()).find(c.reason), std::string::npos) << error->what();
    EXPECT_EQ(position, c.unknown_word);
  }
}

TEST(Mnemonic, UnknownWordMessageDoesNotQuoteTheWord) {
  const auto error = error_of([] { parse_mnemonic(text(with_word(kVector1, 5, "agncy"))); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(std::string(error->what()).find("agncy"), std::string::npos) << error->what();
}

TEST(Mnemonic, WriteRefusesImpossibleShares) {
  const auto share = [](ShareHeader h, std::size_t bytes = 16) {
    return Share{h, random_secret(bytes, 3)};
  };
  const ShareHeader ok{1, true, 0, 0, 1, 1, 0, 1};
  const auto with = [&](auto change) {
    ShareHeader h = ok;
    change(h);
    return h;
  };
  std::vector<std::pair<std::string, Share>> cases;
  cases.emplace_back("identifier", share(with([](auto& h) { h.identifier = 0x8000; })));
  cases.emplace_back("exponent", share(with([](auto& h) { h.iteration_exponent = 16; })));
  cases.emplace_back("group threshold 0", share(with([](auto& h) { h.group_threshold = 0; })));
  cases.emplace_back("threshold > count", share(with([](auto& h) { h.group_threshold = 2; })));
  cases.emplace_back("17 groups", share(with([](auto& h) { h.group_count = 17; })));
  cases.emplace_back("group index", share(with([](auto& h) { h.group_index = 1; })));
  cases.emplace_back("member threshold 0", share(with([](auto& h) { h.member_threshold = 0; })));
  cases.emplace_back("member threshold 17", share(with([](auto& h) { h.member_threshold = 17; })));
  cases.emplace_back("member index 16", share(with([](auto& h) { h.member_index = 16; })));
  cases.emplace_back("15 bytes", share(ok, 15));
  cases.emplace_back("17 bytes", share(ok, 17));
  cases.emplace_back("66 bytes", share(ok, 66));
  for (const auto& c : cases) {
    const auto error = error_of([&] { to_mnemonic(c.second); });
    ASSERT_TRUE(error.has_value()) << c.first;
    EXPECT_EQ(error->category(), Category::usage) << c.first;
  }
  EXPECT_FALSE(error_of([&] { to_mnemonic(share(ok)); }).has_value());
}

}  // namespace
}  // namespace hsm::slip39
