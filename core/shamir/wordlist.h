// The SLIP-0039 wordlist and constant-time conversion between words and their 10-bit indices.
// Share words are secret: never look a word up by branching on its letters or index a table by
// a word's index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/secure/secret.h"

namespace hsm::slip39 {

inline constexpr std::size_t kWordCount = 1024;
inline constexpr std::size_t kMaxWordLength = 8;

// The 1024 words in order (public data, compiled in from wordlist.inc).
std::span<const std::string_view> wordlist() noexcept;

// A word packed into 64 bits: letter q in byte q (bits 8q..8q+7), unused bytes zero; 0 (no
// word) when longer than 8 letters. For public words: it branches on the length.
std::uint64_t pack_word(std::string_view word) noexcept;

// SLIP-0039's list is unique in the first four letters of its words, so four or more letters
// that begin a word name it (the spec's way to abbreviate, as on metal backups).
inline constexpr std::size_t kPrefixLetters = 4;

struct WordMatch {
  std::uint32_t index;  // valid only where found is all ones
  std::uint32_t found;  // mask: all ones if the packed word is in the list, else 0
};
// The word that `packed` spells, or begins with at least kPrefixLetters letters ("leng" and
// "lengt" are "length"). Compares against every word, so timing does not depend on which word
// (if any) matches.
WordMatch find_word(std::uint64_t packed) noexcept;
// The packed word at index (< 1024), selected by a full scan of the list.
std::uint64_t word_at(std::uint32_t index) noexcept;

// The 10-bit word indices of one mnemonic, kept in locked memory.
class WordIndices {
 public:
  explicit WordIndices(std::size_t count) : bytes_(count * 2), count_(count) {}
  std::size_t size() const noexcept { return count_; }
  std::uint32_t get(std::size_t i) const noexcept {
    return (std::uint32_t{bytes_.data()[2 * i]} << 8) | bytes_.data()[2 * i + 1];
  }
  void set(std::size_t i, std::uint32_t value) noexcept {
    bytes_.data()[2 * i] = static_cast<std::uint8_t>(value >> 8);
    bytes_.data()[2 * i + 1] = static_cast<std::uint8_t>(value);
  }

 private:
  Secret bytes_;
  std::size_t count_;
};

}  // namespace hsm::slip39
