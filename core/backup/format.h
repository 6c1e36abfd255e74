// The backup file format (man hsmctl-backup(1), FILE FORMAT): a text envelope around one JSON
// document, authenticated as a whole by an HMAC-SHA256 tag. Parsing never trusts a length or a
// field it has not checked; this file computes no tag and never sees a key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"

namespace hsm::backup {

inline constexpr int kVersion = 1;
inline constexpr std::size_t kTagSize = 32;

// One hsmctl key as the backup carries it: its birth escrow blob and the public facts needed to
// put it back on a token exactly as `key generate` (or `master init`) made it.
struct KeyEntry {
  std::string label, key_id, algorithm, purpose, escrow;  // as in the keystore's keys table
  int quorum = 0;
  std::string token_label;  // CKA_LABEL of the token objects ("" for escrow "qk")
  std::string mechanism;    // the one signing mechanism the token object allows
  Bytes wrapped_key;        // AES-KWP blob under MK-wrap (escrow "mk-wrap") or QK ("qk")
  Bytes public_key;         // DER SubjectPublicKeyInfo
  bool operator==(const KeyEntry&) const = default;
};

struct Contents {
  std::string created;  // RFC 3339 UTC
  std::string kcv;      // hex CKA_CHECK_VALUE of MK-wrap
  // How the master's keys are derived from MK-derive ("aes-ecb" or "hmac-sha256"): a restore
  // or clone puts the master back the same way. A backup from before the field: "aes-ecb".
  std::string kek_derivation = "aes-ecb";
  int schema = 0;       // keystore schema version
  std::uint64_t transcript_seq = 0;  // entries in the transcript when the backup was made
  std::string transcript_head;       // hex hash of the last of them
  std::vector<KeyEntry> keys;
  std::vector<std::string> not_backed_up;  // labels of keys born on the token (escrow "none")
  nlohmann::json keystore;  // Keystore::export_all()
};

// The body: one JSON document, UTF-8, keys sorted (nlohmann's object order), no spaces.
std::string serialise_body(const Contents& c);
// Throws Error(integrity) naming the first field that is missing or has the wrong type.
Contents parse_body(std::string_view body);

// The bytes the tag covers: "hsmctl-backup 1\n" <body length in decimal> "\n" <body>.
Bytes authenticated_part(std::string_view body);
// The whole file: authenticated_part, then "\nhmac-sha256 " <64 hex> "\n".
Bytes assemble(std::string_view body, ByteView tag);

struct Envelope {
  std::string body;
  Bytes authenticated;  // the bytes the tag covers
  Bytes tag;            // 32 bytes
};
// Splits a file into its parts; any deviation from the layout, a length that does not match
// the bytes present, or trailing bytes: Error(integrity) saying where.
Envelope parse_envelope(ByteView file);

}  // namespace hsm::backup
