// The compiled-in wordlist equals the shared SLIP-0039 wordlist, and the constant-time lookups
// agree with it.
#include "core/shamir/wordlist.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/shamir/fixtures.h"

namespace hsm::slip39 {
namespace {

TEST(Wordlist, CompiledListEqualsSharedWordlistWordForWord) {
  const std::string path = testing::vectors_dir() + "/wordlist.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::vector<std::string> shared;
  for (std::string line; std::getline(in, line);) shared.push_back(line);
  const auto compiled = wordlist();
  ASSERT_EQ(shared.size(), kWordCount);
  ASSERT_EQ(compiled.size(), kWordCount);
  for (std::size_t i = 0; i < kWordCount; ++i) {
    ASSERT_EQ(compiled[i], shared[i]) << "word " << i;
  }
}

TEST(Wordlist, EveryWordHasAUniqueFourLetterPrefix) {
  const auto words = wordlist();
  for (std::size_t i = 1; i < words.size(); ++i) {
    EXPECT_NE(words[i - 1].substr(0, 4), words[i].substr(0, 4)) << words[i];
  }
}

TEST(Wordlist, FindWordAndWordAtAreInverse) {
  const auto words = wordlist();
  for (std::uint32_t i = 0; i < kWordCount; ++i) {
    const WordMatch match = find_word(pack_word(words[i]));
    ASSERT_EQ(match.found, ~0u) << words[i];
    ASSERT_EQ(match.index, i);
    ASSERT_EQ(word_at(i), pack_word(words[i]));
  }
}

TEST(Wordlist, NonWordsAreNotFound) {
  for (std::string_view w : {"", "aca", "len", "acadx", "academicx", "zzzz", "Academic", "acid ",
                             "lengthy"}) {
    EXPECT_EQ(find_word(pack_word(w)).found, 0u) << "'" << w << "'";
  }
}

TEST(Wordlist, FourOrMoreLettersThatBeginAWordFindIt) {
  const auto words = wordlist();
  for (std::uint32_t i = 0; i < kWordCount; ++i) {
    for (std::size_t n = kPrefixLetters; n <= words[i].size(); ++n) {
      const WordMatch match = find_word(pack_word(words[i].substr(0, n)));
      ASSERT_EQ(match.found, ~0u) << words[i].substr(0, n);
      ASSERT_EQ(match.index, i) << words[i].substr(0, n);
    }
    EXPECT_EQ(find_word(pack_word(words[i].substr(0, kPrefixLetters - 1))).found, 0u) << words[i];
  }
}

}  // namespace
}  // namespace hsm::slip39
