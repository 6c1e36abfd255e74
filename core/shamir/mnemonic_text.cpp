// Constant-time tokenizing and rendering of mnemonic text. Every character is routed into every
// word slot under a mask, so neither timing nor memory addresses reveal where words begin or
// which words they are. Never add an early exit or a branch on a character here.
#include "core/shamir/mnemonic_text.h"

#include <string>

#include "core/error.h"
#include "core/shamir/ct.h"
#include "core/shamir/mnemonic.h"

namespace hsm::slip39 {
namespace {

// kMaxMnemonicWords packed words (kMaxWordLength bytes each, letter q in byte q), then one byte
// per word that is 1 when the word has a character outside a-z or more than 8 letters.
class WordSlots {
 public:
  WordSlots() : bytes_(kMaxMnemonicWords * (kMaxWordLength + 1)) {}

  std::uint64_t packed(std::size_t slot) const noexcept {
    std::uint64_t word = 0;
    for (std::size_t q = 0; q < kMaxWordLength; ++q) {
      word |= std::uint64_t{bytes_.data()[slot * kMaxWordLength + q]} << (8 * q);
    }
    return word;
  }
  void add_bits(std::size_t slot, std::uint64_t bits) noexcept {
    for (std::size_t q = 0; q < kMaxWordLength; ++q) {
      bytes_.data()[slot * kMaxWordLength + q] |= static_cast<std::uint8_t>(bits >> (8 * q));
    }
  }
  std::uint32_t invalid(std::size_t slot) const noexcept {
    return 0u - std::uint32_t{bytes_.data()[kMaxMnemonicWords * kMaxWordLength + slot]};
  }
  void add_invalid(std::size_t slot, std::uint32_t mask) noexcept {
    bytes_.data()[kMaxMnemonicWords * kMaxWordLength + slot] |=
        static_cast<std::uint8_t>(mask & 1u);
  }

 private:
  Secret bytes_;
};

std::uint32_t is_separator(std::uint32_t c) noexcept {
  return ct::eq(c, ' ') | ct::eq(c, '\t') | ct::eq(c, '\n') | ct::eq(c, '\r');
}

}  // namespace

WordIndices words_from_text(std::string_view text) {
  if (text.size() > kMaxMnemonicChars) {
    fail(Category::integrity, "The mnemonic is longer than " + std::to_string(kMaxMnemonicChars) +
                                  " characters; a share has at most " +
                                  std::to_string(kMaxMnemonicWords) + " words.");
  }
  WordSlots slots;
  std::uint32_t words = 0;    // words begun so far; the current word is slot words - 1
  std::uint32_t length = 0;   // letters of the current word so far
  std::uint32_t in_word = 0;  // mask: the previous character belonged to a word
  for (char ch : text) {
    std::uint32_t c = static_cast<unsigned char>(ch);
    const std::uint32_t letter = ~is_separator(c);
    const std::uint32_t begins = letter & ~in_word;
    words += begins & 1u;
    length &= ~begins;
    c += 0x20u & ct::in_range(c, 'A', 'Z');
    const std::uint32_t bad = ~ct::in_range(c, 'a', 'z') | ~ct::lt(length, kMaxWordLength);
    std::uint64_t bits = 0;  // c at byte `length`, without a shift by a secret amount
    for (std::uint32_t q = 0; q < kMaxWordLength; ++q) {
      bits |= (std::uint64_t{c} << (8 * q)) & ct::widen(ct::eq(length, q));
    }
    for (std::uint32_t slot = 0; slot < kMaxMnemonicWords; ++slot) {
      const std::uint32_t here = ct::eq(slot + 1, words) & letter;
      slots.add_bits(slot, bits & ct::widen(here));
      slots.add_invalid(slot, here & bad);
    }
    length += letter & 1u;
    in_word = letter;
  }
  const std::size_t count = ct::declassify(words);
  if (count > kMaxMnemonicWords) {
    fail(Category::integrity, "The mnemonic has " + std::to_string(count) +
                                  " words, but a share has at most " +
                                  std::to_string(kMaxMnemonicWords) + "; check for extra text.");
  }
  WordIndices indices(count);
  for (std::size_t slot = 0; slot < count; ++slot) {
    const WordMatch match = find_word(slots.packed(slot));
    if (!ct::declassify_mask(match.found & ~slots.invalid(slot))) {
      throw UnknownWordError(slot + 1);
    }
    indices.set(slot, match.index);
  }
  return indices;
}

Secret text_from_words(const WordIndices& words) {
  const std::size_t count = words.size();
  if (count == 0) return Secret();
  Secret packed(count * kMaxWordLength);
  Secret lengths(count);
  std::uint32_t letters = 0;
  for (std::size_t w = 0; w < count; ++w) {
    const std::uint64_t word = word_at(words.get(w));
    std::uint32_t length = 0;
    for (std::size_t q = 0; q < kMaxWordLength; ++q) {
      const auto byte = static_cast<std::uint8_t>(word >> (8 * q));
      packed.data()[w * kMaxWordLength + q] = byte;
      length += ~ct::is_zero(byte) & 1u;
    }
    lengths.data()[w] = static_cast<std::uint8_t>(length);
    letters += length;
  }
  Secret text(ct::declassify(letters) + count - 1);
  std::uint32_t start = 0;  // where word w begins in text
  for (std::size_t w = 0; w < count; ++w) {
    const std::uint32_t length = lengths.data()[w];
    for (std::uint32_t i = 0; i < text.size(); ++i) {
      const std::uint32_t offset = i - start;  // wraps around before the word
      std::uint32_t ch = 0;
      for (std::uint32_t q = 0; q < kMaxWordLength; ++q) {
        ch |= packed.data()[w * kMaxWordLength + q] & ct::eq(offset, q);
      }
      if (w + 1 < count) ch |= ' ' & ct::eq(offset, length);
      text.data()[i] |= static_cast<std::uint8_t>(ch);
    }
    start += length + 1;
  }
  return text;
}

}  // namespace hsm::slip39
