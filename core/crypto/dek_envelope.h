// Wrapped data-encryption keys for group encryption keys (docs/design.md, "Group data keys";
// hsmctl-data(5)): a fresh AES-256 DEK wrapped on the host, with no token and no secret, to a
// group's ECDH P-256 public key. A one-use P-256 pair on the host, Z = the ECDH x-coordinate,
// KEK = AES-256-ECB(Z, info) with info a SHA-256 over the group, key version, DEK id, context
// and both public keys, and the DEK wrapped under the KEK with AES key wrap (RFC 3394). The KEK
// is exactly what CKM_AES_ECB_ENCRYPT_DATA gives on a token from Z, so a member can unwrap the
// DEK inside the token. Never logs or prints a DEK, Z or a KEK: they live only in Secrets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::crypto {

inline constexpr std::size_t kDekSize = 32;
inline constexpr std::size_t kDekIdSize = 16;
inline constexpr std::size_t kWrappedDekSize = kDekSize + 8;  // RFC 3394 adds one block half
inline constexpr const char* kDekFormat = "hsmctl-dek-v1";

using DekContext = std::map<std::string, std::string>;

// Everything a member needs, besides their own factors, to unwrap a DEK: public data only.
struct DekEnvelope {
  std::string group;
  std::int64_t key_version = 0;
  Bytes dek_id;                // 16 random bytes naming this DEK in the transcript
  DekContext context;          // bound through the KEK derivation
  Bytes ephemeral_public_key;  // DER SPKI of the one-use P-256 key
  Bytes wrapped_dek;           // RFC 3394 AES key wrap of the DEK under the KEK (40 bytes)
};

struct NewDek {
  DekEnvelope envelope;
  Secret dek;
};

// Error(usage) unless `pair` is KEY=VALUE with a key of 1-64 letters, digits, '.', '_', '-' and
// a value of printable text; adds it to `context` (Error(usage) for a repeated key).
void add_context_pair(DekContext& context, const std::string& pair);

// The 32-byte derivation data of the KEK: SHA-256("hsmctl v1 dek" || u32be length || bytes,
// for each of: group name, key version (u64be), DEK id, canonical JSON of the context,
// ephemeral SPKI, group SPKI). Applied to Z with AES-256-ECB it gives the KEK.
Bytes dek_kdf_data(const DekEnvelope& e, ByteView group_spki);

// A fresh DEK wrapped to `group_spki` (a P-256 SPKI; Error(integrity) otherwise).
NewDek new_wrapped_dek(const std::string& group, std::int64_t key_version, ByteView group_spki,
                       const DekContext& context);

// The envelope's members in JSON (hex dek_id, base64 keys, context object), without "format".
nlohmann::json envelope_json(const DekEnvelope& e);
// Reads envelope_json's members back; Error(integrity) naming `what` for a missing or
// malformed member.
DekEnvelope envelope_from_json(const nlohmann::json& j, const std::string& what);

}  // namespace hsm::crypto
