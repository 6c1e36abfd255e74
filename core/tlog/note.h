// C2SP signed notes, checkpoints and cosignatures: parsing and formatting the text forms,
// verifier keys (name+keyid+base64), and the three signature types hsmctl uses: 0x02 ECDSA
// P-256 (the log's checkpoints, by the transcript key; key ID = SHA-256(DER SPKI)[:4] as the
// transparency-dev verifiers compute it), 0x01 Ed25519 and 0x04 timestamped Ed25519 witness
// cosignatures (c2sp.org/tlog-cosignature). Signing with a private key happens elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/tlog/merkle.h"

namespace hsm::tlog {

struct NoteSignature {
  std::string name;
  std::uint32_t key_id = 0;
  Bytes signature;  // without the key ID
  std::string line() const;  // "— name base64(id || signature)\n"
};

struct Note {
  std::string text;  // ends in a newline; no blank line at the end
  std::vector<NoteSignature> signatures;
  std::string format() const;
};

// Throws Error(integrity) naming what is wrong: control characters, no signature, a
// malformed signature line, more than 100 signatures.
Note parse_note(std::string_view note);
// Signature lines alone (a witness's answer): each "— name base64\n".
std::vector<NoteSignature> parse_signature_lines(std::string_view lines);

enum class KeyType : std::uint8_t { ed25519 = 0x01, ecdsa = 0x02, cosignature_v1 = 0x04 };

struct VerifierKey {
  std::string name;
  KeyType type = KeyType::ecdsa;
  Bytes key;  // DER SPKI for ecdsa; 32 raw bytes for the Ed25519 types
  std::uint32_t key_id() const;
  std::string format() const;  // name+hex8+base64(type || key)
};

// Throws Error(usage) for a malformed vkey, an unknown type or a key ID that does not match.
VerifierKey parse_verifier_key(std::string_view vkey);
// Throws Error(usage) unless `name` is a valid key name (non-empty, no space, no '+').
void check_key_name(std::string_view name, std::string_view what);

// True when `sig` is `key`'s valid signature over `note_text` (for a cosignature: over the
// cosigned message of its own timestamp). The name and key ID must match too.
bool verify_note_signature(const VerifierKey& key, std::string_view note_text,
                           const NoteSignature& sig);
// The POSIX time a cosignature_v1 signature carries (its first 8 bytes).
std::uint64_t cosignature_time(const NoteSignature& sig);
// The message an Ed25519 cosigner signs: "cosignature/v1\ntime T\n" + the checkpoint text.
std::string cosigned_message(std::uint64_t time, std::string_view checkpoint_text);

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
  std::string text() const;  // origin\nsize\nbase64(root)\n
};
// Throws Error(integrity) for a malformed checkpoint body (extension lines are refused: hsmctl
// writes none, and witnesses make no statement about them).
Checkpoint parse_checkpoint(std::string_view text);

}  // namespace hsm::tlog
