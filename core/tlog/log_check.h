// Checking a log against a cosigned checkpoint, offline: the log key's signature, the
// witnesses' cosignatures (at least K of the trusted ones), and the Merkle root of the log's
// first `size` entries. This is what catches a truncated, rewritten or forked transcript
// without any head written on paper.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tlog/note.h"

namespace hsm::tlog {

struct CheckpointPolicy {
  std::vector<VerifierKey> log_keys;      // any one of them must have signed it
  std::vector<VerifierKey> witness_keys;  // cosignature_v1 keys
  std::size_t min_cosigners = 0;
};

struct CheckpointReport {
  Checkpoint checkpoint;
  std::string log_key;                // the vkey that signed it
  std::vector<std::string> cosigners;  // names of trusted witnesses whose cosignature verified
};

// Verifies the note's signatures per `policy`; throws Error(integrity) naming what did not
// match (another key, an unknown or bad cosignature, too few cosigners).
CheckpointReport check_checkpoint(std::string_view note_text, const CheckpointPolicy& policy);

// Throws Error(integrity) unless the first checkpoint.size entries of `log` (the transcript's
// bytes, one entry per line) have the checkpoint's root.
void check_log_matches(std::string_view log, const Checkpoint& checkpoint);

}  // namespace hsm::tlog
