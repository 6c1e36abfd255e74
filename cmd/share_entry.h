// Typing a share at the terminal, word by word where it goes wrong: four-letter prefixes are
// enough, a word not in the list is named with the nearest list word and typed again alone,
// and a share whose checksum fails can be mended one numbered word at a time. Also the same
// spelling check, without prompts, for shares read from files.
#pragma once

#include <string>
#include <string_view>

#include "core/secure/secret.h"

namespace hsm::cli {

// Asks with `prompt` (hidden) until the typed text is a well-formed share (every word in the
// list, a share's number of words, checksum and header good) and returns it; an empty line at
// the first prompt, or where the whole share is asked for again, returns an empty Secret.
// Needs a terminal (Error(usage) otherwise).
Secret type_share(std::string_view prompt);

// Shares read from `origin` (a file name, for messages): Error(integrity) for the first word
// that is not in the list, naming the share, the word's number, the word and the nearest list
// word. Nothing is asked. The message quotes the word: it goes to stderr, never the transcript.
void check_share_spelling(const Secret& mnemonic, int share_number, const std::string& origin);

}  // namespace hsm::cli
