// The PGP word list: the transcript head (a hash) as words to read aloud and write down at a
// ceremony. Only for public values; never pass it a secret (the words are as good as the bytes).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm::transcript {

// One word per byte, space-separated: a byte at an even position (0, 2, ...) takes the
// two-syllable "even" word, one at an odd position the three-syllable "odd" word, so a skipped
// or repeated word is heard as a wrong rhythm.
std::string pgp_words(ByteView bytes);

// The two lists, indexed by byte value (for tests and for a reader that maps words back).
const std::array<std::string_view, 256>& pgp_even_words() noexcept;
const std::array<std::string_view, 256>& pgp_odd_words() noexcept;

}  // namespace hsm::transcript
