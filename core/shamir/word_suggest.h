// Help for a custodian who mistyped a share word: the list word nearest to what was typed, to
// suggest ("did you mean 'average'?"). The typed word is secret; the suggestion is for the
// custodian's own terminal and never for a log or the transcript.
#pragma once

#include <cstdint>
#include <string_view>

namespace hsm::slip39 {

// Typed letters beyond this many are not compared (no list word has more than 8).
inline constexpr std::size_t kMaxTypedLetters = 16;
// A suggestion is offered only this many edits away or closer.
inline constexpr std::uint32_t kSuggestDistance = 2;

struct Suggestion {
  std::string_view word;   // a word of the list
  std::uint32_t distance;  // edits from the typed word to it
};

// The list word the fewest edits away from `typed` (any letter case), counting an inserted,
// deleted or replaced letter and two neighbours swapped as one edit each; a tie goes to the
// word first in the list. Timing depends only on typed.size(), not on the letters.
Suggestion nearest_word(std::string_view typed) noexcept;

}  // namespace hsm::slip39
