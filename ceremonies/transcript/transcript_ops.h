// Ceremonies that act on the transcript itself: a witness's note, and the repair of a torn
// last line (cut, then recorded as transcript.repaired).
#pragma once

#include <string>

#include "ceremonies/workspace.h"
#include "core/transcript/entry.h"

namespace hsm {

struct NoteOptions {
  std::string witness;
  std::string text;
  void validate() const;  // Error(usage): empty or over-long text, empty witness
};

transcript::Entry record_note(Workspace& ws, const NoteOptions& options);

// Cuts a torn last line and records how many bytes were cut. Returns 0 when nothing was torn.
std::size_t repair_transcript(Workspace& ws);

}  // namespace hsm
