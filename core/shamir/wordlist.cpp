// The compiled-in SLIP-0039 wordlist and its constant-time lookups. Never add a map, a binary
// search or an early exit here: every lookup touches all 1024 words.
#include "core/shamir/wordlist.h"

#include <array>

#include "core/shamir/ct.h"

namespace hsm::slip39 {
namespace {

constexpr std::array<std::string_view, kWordCount> kWords = {
#include "core/shamir/wordlist.inc"
};

constexpr std::uint64_t pack(std::string_view word) {
  std::uint64_t packed = 0;
  for (std::size_t q = 0; q < word.size() && q < kMaxWordLength; ++q) {
    packed |= std::uint64_t{static_cast<unsigned char>(word[q])} << (8 * q);
  }
  return packed;
}

constexpr std::array<std::uint64_t, kWordCount> pack_all() {
  std::array<std::uint64_t, kWordCount> packed{};
  for (std::size_t i = 0; i < kWordCount; ++i) packed[i] = pack(kWords[i]);
  return packed;
}

constexpr std::array<std::uint64_t, kWordCount> kPacked = pack_all();

constexpr bool words_fit() {
  for (std::size_t i = 0; i < kWordCount; ++i) {
    if (kWords[i].size() < 4 || kWords[i].size() > kMaxWordLength) return false;
    if (i > 0 && !(kWords[i - 1] < kWords[i])) return false;
    // Sorted, so a shared four-letter prefix would show between neighbours.
    if (i > 0 && kWords[i - 1].substr(0, kPrefixLetters) == kWords[i].substr(0, kPrefixLetters))
      return false;
  }
  return true;
}
static_assert(words_fit(), "wordlist.inc must hold 1024 sorted words of 4 to 8 letters, unique "
                           "in their first four");

}  // namespace

std::span<const std::string_view> wordlist() noexcept {
  return kWords;
}

std::uint64_t pack_word(std::string_view word) noexcept {
  return word.size() > kMaxWordLength ? 0 : pack(word);
}

WordMatch find_word(std::uint64_t packed) noexcept {
  // The bytes the typed letters fill (a packed word has no gaps), and whether there are enough.
  std::uint64_t filled = 0;
  for (std::uint32_t q = 0; q < kMaxWordLength; ++q) {
    const std::uint32_t letter = ~ct::is_zero(static_cast<std::uint32_t>(packed >> (8 * q)) & 0xff);
    filled |= ct::widen(letter) & (std::uint64_t{0xff} << (8 * q));
  }
  const std::uint32_t long_enough =
      ~ct::is_zero(static_cast<std::uint32_t>(packed >> (8 * (kPrefixLetters - 1))) & 0xff);
  WordMatch match{0, 0};
  for (std::uint32_t i = 0; i < kWordCount; ++i) {
    const std::uint32_t hit = ct::eq64(packed, kPacked[i] & filled) & long_enough;
    match.index |= i & hit;
    match.found |= hit;
  }
  return match;
}

std::uint64_t word_at(std::uint32_t index) noexcept {
  std::uint64_t packed = 0;
  for (std::uint32_t i = 0; i < kWordCount; ++i) {
    packed |= kPacked[i] & ct::widen(ct::eq(i, index));
  }
  return packed;
}

}  // namespace hsm::slip39
