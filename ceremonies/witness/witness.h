// A witness (c2sp.org/tlog-witness, tlog-cosignature): an Ed25519 identity on the witness's own
// machine, and the latest checkpoint it cosigned for each log origin. It cosigns a checkpoint
// only when the log key signed it and a consistency proof links it to the last one it
// cosigned; it refuses a rollback or a fork and keeps both checkpoints as evidence. The state
// lives in the witness's own directory (DIR), never in the log's workspace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/secure/secret.h"
#include "core/secure/secret_source.h"
#include "core/tlog/merkle.h"
#include "core/tlog/note.h"

namespace hsm {

struct WitnessInitOptions {
  std::filesystem::path dir;
  std::string name;                       // key name, e.g. "witness.example.org/w1"
  std::optional<SecretSource> key_source;  // the 32-byte seed, base64; none: made and kept
};

// Creates DIR/witness.json (and DIR/witness.key, 0600, unless the seed comes from a source);
// refuses (not_found: already exists) a directory that already has a witness. Returns the
// witness's verifier key (vkey, type 0x04).
std::string witness_init(const WitnessInitOptions& options);
// The vkey of the witness in DIR.
std::string witness_vkey(const std::filesystem::path& dir);

enum class CosignOutcome {
  cosigned,
  unknown_origin,  // tlog-witness: 404
  not_signed,      // no valid signature by the log key: 403
  bad_request,     // old size larger than the checkpoint's: 400
  conflict,        // old size is not the size last cosigned: 409 (latest_size says which)
  bad_proof,       // the consistency proof does not verify (kept as evidence): 422
  fork,            // the same size with another root: 409
  rollback,        // smaller than the last cosigned: refused
};

struct CosignRequest {
  std::filesystem::path dir;
  std::vector<tlog::VerifierKey> log_keys;  // the log's keys (their name is the origin)
  std::string checkpoint;                   // the signed note
  std::optional<std::uint64_t> old_size;    // none: the size last cosigned
  std::vector<tlog::Hash> proof;            // consistency proof from old_size
  std::optional<SecretSource> key_source;   // overrides witness.json's
  const Secret* seed = nullptr;             // the key already read (witness serve reads it once)
};

struct CosignResult {
  CosignOutcome outcome = CosignOutcome::cosigned;
  std::string message;           // one line: what did not match
  std::string signature_line;    // "— name base64\n" when cosigned
  std::uint64_t latest_size = 0;  // the size cosigned last for the origin (after this request)
  std::filesystem::path evidence;  // where a refused fork or rollback was kept
};

CosignResult witness_cosign(const CosignRequest& request);

// The witness key of DIR (from `source`, else where witness.json says), checked against its
// vkey (integrity when it is another key): for a server that reads it once at start.
Secret witness_seed(const std::filesystem::path& dir, const std::optional<SecretSource>& source);

// Parses a proof file: "old N" then one base64 hash a line (the body of a tlog-witness
// add-checkpoint request, whose checkpoint part may follow an empty line and is ignored), or
// the JSON of 'transcript prove --consistency'.
void parse_proof(const std::string& text, std::optional<std::uint64_t>& old_size,
                 std::vector<tlog::Hash>& proof);

struct WitnessLogState {
  std::string origin;
  std::uint64_t size = 0;
  tlog::Hash root{};
};
std::optional<WitnessLogState> witness_state(const std::filesystem::path& dir,
                                             const std::string& origin);

}  // namespace hsm
