// The PGP word list: known mappings, the published examples, and the shape of both lists
// (256 distinct words each, alphabetical as published).
#include "core/transcript/pgp_words.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

namespace hsm::transcript {
namespace {

std::string lower(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

TEST(PgpWords, MapsBytesByPosition) {
  EXPECT_EQ(pgp_words(from_hex("00")), "aardvark");
  EXPECT_EQ(pgp_words(from_hex("0000")), "aardvark adroitness");
  EXPECT_EQ(pgp_words(from_hex("ff")), "Zulu");
  EXPECT_EQ(pgp_words(from_hex("ffff")), "Zulu Yucatan");
  EXPECT_EQ(pgp_words(from_hex("0000ffff")), "aardvark adroitness Zulu Yucatan");
  EXPECT_EQ(pgp_words(Bytes{}), "");
}

TEST(PgpWords, MatchesTheWikipediaExample) {
  EXPECT_EQ(pgp_words(from_hex("E58294F2E9A227486E8B061B31CC528FD7FA3F19")),
            "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa "
            "afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell "
            "bottomless");
}

TEST(PgpWords, MatchesPublishedExamples) {
  const struct {
    const char* hex;
    const char* words;
  } examples[] = {
      {"04d5", "adrift specialist"},
      {"9030e74b", "peachy commando transit disable"},
      {"2bab1413012d5dbd1716c8",
       "briefcase Pegasus baboon barbecue absurd clergyman exceed quantity banjo bodyguard "
       "spaniel"},
      {"d1c225e426c633dd94d1a7e8c3f408aa9b342488",
       "stairway repellent bombast tradition bookshelf responsive chisel tambourine Pluto "
       "scavenger repay typewriter snowcap Virginia aimless pedigree puppy confidence bluebird "
       "maritime"},
  };
  for (const auto& e : examples) EXPECT_EQ(pgp_words(from_hex(e.hex)), e.words) << e.hex;
}

TEST(PgpWords, EachListHas256DistinctWordsAndTheListsDoNotOverlap) {
  std::set<std::string> even, all;
  for (auto w : pgp_even_words()) even.insert(lower(w)), all.insert(lower(w));
  std::set<std::string> odd;
  for (auto w : pgp_odd_words()) odd.insert(lower(w)), all.insert(lower(w));
  EXPECT_EQ(even.size(), 256u);
  EXPECT_EQ(odd.size(), 256u);
  EXPECT_EQ(all.size(), 512u);
}

TEST(PgpWords, WordsAreAsciiLetters) {
  for (const auto* list : {&pgp_even_words(), &pgp_odd_words()})
    for (auto w : *list) {
      EXPECT_GE(w.size(), 3u) << w;
      EXPECT_TRUE(std::all_of(w.begin(), w.end(),
                              [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
          << w;
    }
}

TEST(PgpWords, ListsAreAlphabeticalAsPublished) {
  const auto& even = pgp_even_words();
  for (std::size_t i = 1; i < even.size(); ++i)
    EXPECT_LT(lower(even[i - 1]), lower(even[i])) << "even " << i;
  // The published odd list has one pair out of order: "applicant" (0x09) before "Apollo" (0x0A).
  const auto& odd = pgp_odd_words();
  EXPECT_EQ(odd[0x09], "applicant");
  EXPECT_EQ(odd[0x0A], "Apollo");
  for (std::size_t i = 1; i < odd.size(); ++i) {
    if (i != 0x0A) {
      EXPECT_LT(lower(odd[i - 1]), lower(odd[i])) << "odd " << i;
    }
  }
  EXPECT_LT(lower(odd[0x08]), lower(odd[0x0A]));
  EXPECT_LT(lower(odd[0x09]), lower(odd[0x0B]));
}

}  // namespace
}  // namespace hsm::transcript
