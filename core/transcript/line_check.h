// The half of transcript verification that needs nothing but the line itself: strict parsing,
// the body hash and (under the key a worker expects to be in force) the ECDSA signature. It is
// what `verify_transcript` hands to several threads; the checks that link an entry to the ones
// before it (seq, prev, which key is in force) stay in verify.cpp, in order. Never decides
// whether a transcript is good: it only precomputes answers the sequential pass may use.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/transcript/entry.h"

namespace hsm::transcript {

// A transcript key as a verifier holds it.
struct TranscriptKey {
  Bytes spki;
  crypto::Pkey pkey;
  std::string fingerprint;
};

// The key a transcript.open or transcript.key entry names. Throws Error(integrity) for another
// algorithm, a malformed key or a key that is not P-256 (and nlohmann's exceptions for data
// members of the wrong type).
TranscriptKey load_transcript_key(const Entry& e);

// True if e.sig is a valid signature of e.hash (hex, already checked to be the body's hash)
// under `key`.
bool signed_by(const Entry& e, const TranscriptKey& key);

bool is_key_event(std::string_view event);  // transcript.open or transcript.key

// The DER ECDSA-Sig-Value of a 64-byte r||s, byte for byte what crypto::ecdsa_raw_to_der makes
// (a SEQUENCE of two minimal INTEGERs), without OpenSSL's big numbers. Throws Error(integrity)
// for another length.
Bytes p256_der_signature(ByteView raw);

// A key entry found before the pass (see find_key_entries): the key in force from the line
// that begins at `begin` on, if that entry turns out to be good.
struct ExpectedKey {
  std::size_t begin = 0;
  std::shared_ptr<const TranscriptKey> key;
};

// Every line of `content` whose own event is a key event and whose key loads, in order. A
// guess for the workers, who cannot know which key is in force before the lines in front of
// theirs are checked: the sequential pass checks every signature again whose guess was wrong.
std::vector<ExpectedKey> find_key_entries(std::string_view content);

// What the per-line checks found for one line.
struct CheckedLine {
  std::size_t begin = 0;  // offset of the line in the content
  bool torn = false;      // no newline ends it: nothing else below is set
  std::optional<std::string> parse_error;  // what parse_canonical_line or entry_from_json threw
  Entry entry;              // parsed; `data` is kept only for key events
  std::string node;         // its data.node, if a string (a fleet's transcript)
  std::exception_ptr hash_failure;  // computing the body hash threw this
  bool hash_ok = false;             // the body's SHA-256 is `entry.hash`
  const TranscriptKey* signature_key = nullptr;  // the signature was checked under this key
  bool signature_ok = false;                     // ... and this was the answer
};

// Checks the lines of content[begin, end) (whole lines, except a torn one at the very end of
// the content). One LineChecker per thread: it keeps OpenSSL contexts for the keys it used.
class LineChecker {
 public:
  explicit LineChecker(const std::vector<ExpectedKey>& keys);
  ~LineChecker();
  LineChecker(const LineChecker&) = delete;
  LineChecker& operator=(const LineChecker&) = delete;

  void check(std::string_view content, std::size_t begin, std::size_t end,
             std::vector<CheckedLine>& out);

 private:
  struct Verifier;
  bool verify(const Entry& e, std::size_t slot);  // under keys_[slot]
  const std::vector<ExpectedKey>& keys_;
  std::vector<std::unique_ptr<Verifier>> verifiers_;  // one per key in keys_, made on first use
};

}  // namespace hsm::transcript
