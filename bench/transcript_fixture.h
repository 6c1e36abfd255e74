// A large, valid transcript in hsmctl's exact format, signed with a software P-256 key (the
// verifier's cost does not depend on who signed), plus the same entries pre-parsed for the bare
// crypto baseline. Bench-only: the key is throwaway and never touches a token or a workspace.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace hsm::bench {

struct SignedTranscript {
  std::string content;  // the file's bytes, as read back from the temp file
  Bytes spki;           // DER SubjectPublicKeyInfo of the signing key

  // The baseline's inputs, per entry: the canonical body (what `hash` is over), the 32 raw bytes
  // of `hash`, and `sig` as a DER ECDSA-Sig-Value. Kept in a few flat buffers: a few hundred
  // thousand small allocations kept alive would fragment the heap and slow every allocation the
  // verifier makes afterwards (measured: ~30% per entry), which a real `transcript verify`
  // process never sees.
  std::size_t entries() const { return body_ends.size(); }
  std::string_view body(std::size_t i) const {
    return std::string_view(bodies).substr(start(body_ends, i), body_ends[i] - start(body_ends, i));
  }
  ByteView hash(std::size_t i) const { return ByteView(hashes).subspan(32 * i, 32); }
  ByteView der_signature(std::size_t i) const {
    return ByteView(der_signatures).subspan(start(der_ends, i), der_ends[i] - start(der_ends, i));
  }

  std::string bodies;
  std::vector<std::size_t> body_ends;
  Bytes hashes;
  Bytes der_signatures;
  std::vector<std::size_t> der_ends;

 private:
  static std::size_t start(const std::vector<std::size_t>& ends, std::size_t i) {
    return i == 0 ? 0 : ends[i - 1];
  }
};

// Entry 0 is transcript.open; the rest cycle through ceremonies of ceremony.begin, witness.note,
// key events and ceremony.end with realistic data. Writes the file to $TMPDIR, reads it back
// once and removes it.
SignedTranscript make_signed_transcript(std::size_t entries);

}  // namespace hsm::bench
