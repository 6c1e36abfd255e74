// The wire format of C2SP tlog-witness `add-checkpoint` (c2sp.org/tlog-witness, "HTTP
// Interface"), shared by the witness's server and the log's client: the request body, and the
// HTTP status each cosigning outcome answers with. No sockets here, and nothing that decides
// whether to cosign: that is witness_cosign's alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ceremonies/witness/witness.h"
#include "core/tlog/merkle.h"

namespace hsm {

inline constexpr const char* kAddCheckpointPath = "/add-checkpoint";
// The media type of a 409 answer's body: the witness's latest size, in decimal, and a newline.
inline constexpr const char* kTlogSizeType = "text/x.tlog.size";
// A request body is at most 63 hashes and one checkpoint note (at most 100 signatures): far
// below this. Larger bodies are refused before they are read.
inline constexpr std::size_t kMaxAddCheckpointBody = 64 * 1024;

struct AddCheckpointRequest {
  std::uint64_t old_size = 0;
  std::vector<tlog::Hash> proof;
  std::string checkpoint;  // the signed note, as sent
};

// "old N\n", the proof's base64 lines, an empty line, then the checkpoint note.
std::string format_add_checkpoint(std::uint64_t old_size, const std::vector<tlog::Hash>& proof,
                                  std::string_view checkpoint_note);
// Throws Error(usage) naming what is malformed: no "old N" line (N decimal, no leading zero),
// a line that is not the base64 of 32 bytes, more than 63 of them, a proof with old size 0, no
// empty line before the checkpoint, or a checkpoint that does not parse (Error(integrity) from
// the note parser is turned into usage: to the server both are a bad request).
AddCheckpointRequest parse_add_checkpoint(std::string_view body);

// The status tlog-witness assigns to an outcome: 200, 400, 403, 404, 409 or 422. A rollback is
// 400 when the old size is larger than the checkpoint's, else 409 (the old size cannot be the
// one last cosigned).
int http_status(CosignOutcome outcome, std::uint64_t old_size, std::uint64_t checkpoint_size);
// "cosigned", "unknown-origin", "not-signed", "bad-request", "conflict", "bad-proof", "fork",
// "rollback": for log lines.
const char* outcome_name(CosignOutcome outcome);
// The body of a 409 answer.
std::string format_tlog_size(std::uint64_t size);
// Reads a 409 answer's body; throws Error(integrity) unless it is one decimal size line.
std::uint64_t parse_tlog_size(std::string_view body);

}  // namespace hsm
