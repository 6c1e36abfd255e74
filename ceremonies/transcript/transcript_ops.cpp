// Witness notes and repair.
#include "ceremonies/transcript/transcript_ops.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"

namespace hsm {

void NoteOptions::validate() const {
  if (witness.empty()) fail(Category::usage, "--witness must name who makes the note");
  if (text.empty()) fail(Category::usage, "the note is empty");
  if (text.size() > 4096) fail(Category::usage, "the note is longer than 4096 bytes");
}

transcript::Entry record_note(Workspace& ws, const NoteOptions& options) {
  options.validate();
  transcript::Entry written;
  run_ceremony(ws, "transcript.note", {{"witness", options.witness}}, [&](Recorder& rec) {
    written.seq =
        rec.record("witness.note", {{"witness", options.witness}, {"text", options.text}});
  });
  // The head after ceremony.end: what a witness writes down.
  written.hash = transcript::Transcript(ws.options().dir / "transcript.jsonl").state().head;
  return written;
}

TranscriptRepair repair_transcript(Workspace& ws) {
  transcript::Transcript t(ws.options().dir / "transcript.jsonl");
  TranscriptRepair out;
  out.torn_bytes = t.cut_torn_tail();
  out.unsealed_entries = t.state().unsigned_tail;
  if (out.torn_bytes == 0 && out.unsealed_entries == 0) return out;
  run_ceremony(ws, "transcript.repair", nlohmann::json::object(), [&](Recorder& rec) {
    if (out.torn_bytes > 0)
      rec.record("transcript.repaired", {{"cut_bytes", out.torn_bytes},
                                         {"reason", "torn last line (an interrupted write)"}});
  });
  return out;
}

}  // namespace hsm
