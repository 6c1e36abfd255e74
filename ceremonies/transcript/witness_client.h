// The log's side of C2SP tlog-witness: `transcript checkpoint --witness URL` sends the kept
// checkpoint to each witness's add-checkpoint with a consistency proof from the size that
// witness last cosigned, and keeps every returned cosignature that verifies under the
// witness's key with the checkpoint (add_cosignatures). One witness failing never stops the
// others; its answer says why. Never keeps a cosignature it did not verify.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tlog/note.h"
#include "core/transcript/appender.h"

namespace hsm {

struct WitnessTarget {
  std::string url;         // the submission prefix: http[s]://host[:port][/path]
  tlog::VerifierKey key;   // the witness's cosignature key (type 0x04)
};

struct WitnessAnswer {
  std::string url;
  std::string name;           // the witness key's name
  bool cosigned = false;
  // When not cosigned: integrity for a refused fork or rollback, a proof it could not verify
  // or a bad cosignature; general when it could not be reached or answered otherwise.
  Category failure = Category::general;
  int status = 0;             // the last HTTP status (0: no answer)
  std::uint64_t old_size = 0;  // the size the last request proved consistency from
  std::string message;        // when not cosigned: one line, what happened
};

// The URL checked: http or https, a host, an optional port and path. Error(usage) otherwise.
void check_witness_url(const std::string& url);

// Asks each witness in turn for a cosignature of `note` (the log's checkpoint, signed by the
// log key). `ca_file`: PEM certificates that https witnesses are checked against instead of
// the system's.
std::vector<WitnessAnswer> request_cosignatures(transcript::Transcript& log, const tlog::Note& note,
                                                const std::vector<WitnessTarget>& witnesses,
                                                const std::filesystem::path& ca_file);

// DIR/tlog/witnesses/<16 hex digits of SHA-256 of the vkey>: the size that witness last
// cosigned, so the next request carries a proof from there.
std::filesystem::path witness_memory_path(const std::filesystem::path& transcript,
                                          const tlog::VerifierKey& key);

}  // namespace hsm
