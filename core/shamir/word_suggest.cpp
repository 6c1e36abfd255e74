// Nearest-word search over the SLIP-0039 list: an edit distance (with transpositions) to every
// word, each over the whole fixed-size grid, with masks instead of branches on letters. Never
// add an early exit: it would tell how close the typed word is to each list word.
#include "core/shamir/word_suggest.h"

#include <array>

#include "core/shamir/ct.h"
#include "core/shamir/wordlist.h"

namespace hsm::slip39 {
namespace {

std::uint32_t min_ct(std::uint32_t a, std::uint32_t b) noexcept {
  return b ^ ((a ^ b) & ct::lt(a, b));
}

using Grid = std::array<std::array<std::uint32_t, kMaxWordLength + 1>, kMaxTypedLetters + 1>;

// Optimal string alignment distance between a[0..la) and b[0..lb), both zero-padded.
std::uint32_t distance(const std::array<std::uint32_t, kMaxTypedLetters>& a, std::uint32_t la,
                       const std::array<std::uint32_t, kMaxWordLength>& b,
                       std::uint32_t lb) noexcept {
  Grid d{};
  for (std::uint32_t i = 0; i <= kMaxTypedLetters; ++i) d[i][0] = i;
  for (std::uint32_t j = 0; j <= kMaxWordLength; ++j) d[0][j] = j;
  for (std::uint32_t i = 1; i <= kMaxTypedLetters; ++i) {
    for (std::uint32_t j = 1; j <= kMaxWordLength; ++j) {
      const std::uint32_t same = ct::eq(a[i - 1], b[j - 1]);
      std::uint32_t v = min_ct(d[i - 1][j] + 1, d[i][j - 1] + 1);
      v = min_ct(v, d[i - 1][j - 1] + (~same & 1u));
      if (i > 1 && j > 1) {  // public loop indices
        const std::uint32_t swapped = ct::eq(a[i - 1], b[j - 2]) & ct::eq(a[i - 2], b[j - 1]);
        const std::uint32_t t = min_ct(v, d[i - 2][j - 2] + 1);
        v ^= (v ^ t) & swapped;
      }
      d[i][j] = v;
    }
  }
  std::uint32_t out = 0;
  for (std::uint32_t i = 0; i <= kMaxTypedLetters; ++i)
    for (std::uint32_t j = 0; j <= kMaxWordLength; ++j)
      out |= d[i][j] & ct::eq(i, la) & ct::eq(j, lb);
  return out;
}

}  // namespace

Suggestion nearest_word(std::string_view typed) noexcept {
  std::array<std::uint32_t, kMaxTypedLetters> a{};
  const auto la = static_cast<std::uint32_t>(typed.size() < kMaxTypedLetters ? typed.size()
                                                                             : kMaxTypedLetters);
  for (std::uint32_t i = 0; i < la; ++i) {
    std::uint32_t c = static_cast<unsigned char>(typed[i]);
    c += 0x20u & ct::in_range(c, 'A', 'Z');
    a[i] = c;
  }
  const auto words = wordlist();
  std::uint32_t best = ~0u >> 1, best_index = 0;
  for (std::uint32_t w = 0; w < kWordCount; ++w) {
    std::array<std::uint32_t, kMaxWordLength> b{};
    for (std::size_t q = 0; q < words[w].size(); ++q) b[q] = static_cast<unsigned char>(words[w][q]);
    const std::uint32_t d = distance(a, la, b, static_cast<std::uint32_t>(words[w].size()));
    const std::uint32_t better = ct::lt(d, best);
    best ^= (best ^ d) & better;
    best_index ^= (best_index ^ w) & better;
  }
  return {words[ct::declassify(best_index)], ct::declassify(best)};
}

}  // namespace hsm::slip39
