// Mnemonic text <-> 10-bit word indices, constant time in the letters and the indices: word
// boundaries, lookups and the output layout are computed with masks. Never tokenize a mnemonic
// with std::string, a stream or a branch on a character.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/secure/secret.h"
#include "core/shamir/share.h"
#include "core/shamir/wordlist.h"

namespace hsm::slip39 {

// 4 header words + the words of a kMaxSecretBytes value + 3 checksum words.
inline constexpr std::size_t kMaxMnemonicWords = 4 + (8 * kMaxSecretBytes + 9) / 10 + 3;
// Generous room for extra whitespace around at most kMaxMnemonicWords words.
inline constexpr std::size_t kMaxMnemonicChars = 4096;

// Splits on spaces, tabs and newlines; letters may be upper or lower case. Throws
// UnknownWordError for the first word not in the list, Error(integrity) for more than
// kMaxMnemonicWords words or kMaxMnemonicChars characters. The number of words is public.
WordIndices words_from_text(std::string_view text);

// The words, lower case, separated by single spaces. The total length is public.
Secret text_from_words(const WordIndices& words);

}  // namespace hsm::slip39
