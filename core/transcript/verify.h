// Offline verification of a whole transcript: canonical form, seq, prev links, hashes and
// signatures, key changes (endorsed or not), and optionally the expected head. Needs no token:
// an auditor runs it anywhere. Reports the first bad seq and why: the same seq and reason
// however many threads did the work.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace hsm::transcript {

struct KeyChange {
  std::uint64_t seq = 0;
  std::string old_fingerprint, new_fingerprint;  // hex SHA-256 of the DER SPKI
  bool endorsed = true;
};

struct VerifyOptions {
  std::optional<Bytes> trusted_key;  // DER SPKI from --pubkey: entry 0 must carry it
  std::optional<std::string> head;   // --head: the file must end exactly there
  bool strict = false;               // unendorsed key changes fail
  // Called now and then with the bytes checked so far and the total (for a progress bar).
  // Called from the calling thread only.
  std::function<void(std::size_t done, std::size_t total)> on_progress;
  // Threads that parse, hash and check signatures (0: one per core, at most kMaxVerifyThreads),
  // in chunks of about `chunk_bytes` of whole lines. Tests set them to make every chunk one
  // line; the result never depends on them.
  unsigned threads = 0;
  std::size_t chunk_bytes = 256 * 1024;
};

inline constexpr unsigned kMaxVerifyThreads = 8;

struct VerifyReport {
  bool ok = false;
  std::uint64_t entries = 0;  // entries that verified
  std::uint64_t ceremonies = 0;
  std::string head;           // hash of the last verified entry
  std::string first_key_fingerprint;
  bool trusted_first_key = false;  // entry 0's key was taken on trust (no --pubkey)
  std::vector<KeyChange> key_changes;
  std::vector<Bytes> keys;  // DER SPKI of every transcript key, in order (what checkpoints are
                            // signed with)
  // Entries written with an empty sig and covered by a later signed entry of their ceremony.
  std::uint64_t unsigned_entries = 0;
  bool torn_last_line = false;
  // A fleet's transcript: the entries that name their node (data.node), per node.
  std::map<std::string, std::uint64_t> nodes;
  std::optional<std::uint64_t> bad_seq;
  std::string reason;
};

VerifyReport verify_transcript(std::string_view content, const VerifyOptions& options);

}  // namespace hsm::transcript
