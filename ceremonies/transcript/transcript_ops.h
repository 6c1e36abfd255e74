// Ceremonies that act on the transcript itself: a witness's note, and the repair of a torn
// last line (cut, then recorded as transcript.repaired) or of an unsealed tail.
#pragma once

#include <cstdint>
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

// What repair_transcript cut.
struct TranscriptRepair {
  std::size_t torn_bytes = 0;          // a torn last line, recorded by transcript.repaired
  std::uint64_t unsealed_entries = 0;  // an unsealed tail, recorded by transcript.unsealed-cut
};

// Cuts a torn last line and records how many bytes were cut; then, when unsigned entries that
// nothing covers end the transcript (an unsealed tail), runs a ceremony whose first append cuts
// them, keeps a copy and records the cut (core/transcript/appender.h). Nothing when neither.
TranscriptRepair repair_transcript(Workspace& ws);

}  // namespace hsm
