// nearest_word: the suggestion offered for a mistyped share word.
#include "core/shamir/word_suggest.h"

#include <gtest/gtest.h>

#include <string>

#include "core/shamir/wordlist.h"

namespace hsm::slip39 {
namespace {

TEST(WordSuggest, EveryListWordIsItsOwnNearestAtDistanceZero) {
  for (std::string_view w : wordlist()) {
    const Suggestion s = nearest_word(w);
    ASSERT_EQ(s.word, w);
    ASSERT_EQ(s.distance, 0u);
  }
}

TEST(WordSuggest, OneEditAwayIsSuggested) {
  struct Case {
    std::string typed, word;
  };
  for (const Case& c : std::vector<Case>{{"averege", "average"},   // replaced
                                         {"avrage", "average"},    // deleted
                                         {"averagee", "average"},  // inserted
                                         {"avearge", "average"},   // neighbours swapped
                                         {"AVEREGE", "average"},   // any case
                                         {"duckilng", "duckling"},
                                         {"keybaord", "keyboard"}}) {
    const Suggestion s = nearest_word(c.typed);
    EXPECT_EQ(s.word, c.word) << c.typed;
    EXPECT_EQ(s.distance, 1u) << c.typed;
  }
}

TEST(WordSuggest, FarFromEveryWordIsBeyondTheSuggestionDistance) {
  EXPECT_GT(nearest_word("qqqqqqqq").distance, kSuggestDistance);
  EXPECT_GT(nearest_word("xyzzyxyzzy").distance, kSuggestDistance);
  // More letters than any word: compared up to kMaxTypedLetters, and never crashes.
  EXPECT_GT(nearest_word(std::string(40, 'a')).distance, kSuggestDistance);
  EXPECT_EQ(nearest_word("").distance, 4u);  // the shortest words have four letters
}

TEST(WordSuggest, DistanceCountsEveryEdit) {
  EXPECT_EQ(nearest_word("avxrxge").word, "average");
  EXPECT_EQ(nearest_word("avxrxge").distance, 2u);
}

}  // namespace
}  // namespace hsm::slip39
