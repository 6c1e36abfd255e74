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

std::size_t repair_transcript(Workspace& ws) {
  transcript::Transcript t(ws.options().dir / "transcript.jsonl");
  const std::size_t cut = t.cut_torn_tail();
  if (cut == 0) return 0;
  run_ceremony(ws, "transcript.repair", nlohmann::json::object(), [&](Recorder& rec) {
    rec.record("transcript.repaired", {{"cut_bytes", cut},
                                       {"reason", "torn last line (an interrupted write)"}});
  });
  return cut;
}

}  // namespace hsm
