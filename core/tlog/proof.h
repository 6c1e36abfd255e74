// C2SP tlog-proof@v1 (c2sp.org/tlog-proof): an offline-verifiable proof that an entry is in a
// log: optional extra data, the entry's index, its inclusion proof and the checkpoint (with
// the witnesses' cosignatures) the proof leads to. hsmctl's receipts are such proofs whose
// extra data is the logged entry itself, so that a receipt carries everything a verifier needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/tlog/merkle.h"
#include "core/tlog/note.h"

namespace hsm::tlog {

inline constexpr std::string_view kProofHeader = "c2sp.org/tlog-proof@v1";

struct InclusionProofText {
  std::optional<Bytes> extra;  // not authenticated by the format itself
  std::uint64_t index = 0;
  std::vector<Hash> proof;  // from the leaf's sibling up to the root's child
  Note checkpoint;          // verbatim, cosignatures included
  std::string format() const;
};

// Throws Error(integrity) naming what is malformed (the header, the extra or index line, a
// proof line, the checkpoint).
InclusionProofText parse_inclusion_proof(std::string_view text);

}  // namespace hsm::tlog
