// Receipts: the proof, for one logged entry (a signature hsmctl made), that the entry is in
// the log: a C2SP tlog-proof@v1 whose extra data is the entry's exact line, with its inclusion
// proof and the checkpoint it leads to, cosignatures included. Made from the workspace after
// the ceremony's checkpoint; checked offline by anyone with the log key and witness keys;
// completed later (more cosignatures, a newer checkpoint) from the workspace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/tlog/log_check.h"
#include "core/tlog/merkle.h"
#include "core/tlog/tree_store.h"

namespace hsm {

namespace transcript {
class Transcript;
}

// The line of entry `seq` of `transcript` (no newline), read through the tree's offsets.
std::string read_entry_line(const std::filesystem::path& transcript, tlog::TreeStore& tree,
                            std::uint64_t seq);

// The receipt for entry `seq`, against the kept checkpoint, which must cover it (Error(general)
// when no checkpoint does yet: 'hsmctl transcript checkpoint' makes one).
std::string make_receipt(const std::filesystem::path& transcript, std::uint64_t seq);
// The receipts for entries `seqs` of the open transcript `t` (whose file is `transcript`),
// against the kept checkpoint, which is loaded and checked against the tree once for all
// (the signing service's batches answer many signatures from one checkpoint).
std::vector<std::string> make_receipts(transcript::Transcript& t,
                                       const std::filesystem::path& transcript,
                                       const std::vector<std::uint64_t>& seqs);

// Error(usage) for an empty path, Error(not_found) when `path` exists or its directory does
// not: checked before a signature is made, so a receipt never fails after it for these.
void check_receipt_path(const std::filesystem::path& path);

struct ReceiptReport {
  std::uint64_t index = 0;
  tlog::CheckpointReport checkpoint;
  std::string event, time, actor;
  std::string signer;  // "key 'K'", "user 'U'", "group 'G' as 'U'"; empty for other events
  std::string input_sha256, output_sha256;  // what the entry says was signed and made
  bool input_checked = false, output_checked = false;
};

// Checks `receipt` offline: its checkpoint per `policy`, the inclusion proof from the entry
// to the checkpoint's root, the entry's seq; with `input` and/or `output` (the signed file and
// the signature or certificate made), that the entry is about exactly those bytes. Throws
// Error(integrity) naming the first thing that does not match.
ReceiptReport verify_receipt(std::string_view receipt, const tlog::CheckpointPolicy& policy,
                             const std::optional<Bytes>& input, const std::optional<Bytes>& output);

struct ReceiptUpdate {
  std::uint64_t old_size = 0, size = 0;
  std::size_t old_signatures = 0, signatures = 0;  // cosignatures included, the log's too
  bool changed = false;
};

// Completes the receipt at `path` from the workspace log: the checkpoint it names, with the
// cosignatures collected since, or the latest checkpoint when that has more signatures (a new
// inclusion proof then). Refuses (integrity) a receipt whose entry the log does not hold at
// its index, or from another log (`configured_origin` as for log_origin()). Rewrites the file
// atomically only when something changed.
ReceiptUpdate update_receipt(const std::filesystem::path& transcript,
                             const std::string& configured_origin,
                             const std::filesystem::path& path);

}  // namespace hsm
