// One transcript entry and its three text forms: the signed body (canonical JSON without hash
// and sig), its hash, and the full line. The format is hsmctl-transcript(5).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.h"

namespace hsm::transcript {

inline const std::string kZeroHash(64, '0');
inline constexpr std::string_view kAlgorithm = "ecdsa-p256-sha256";

struct Entry {
  std::uint64_t seq = 0;
  std::string time;      // RFC 3339 UTC, seconds: 2026-11-24T19:00:00Z
  std::string ceremony;  // UUID of the ceremony (one per hsmctl run)
  std::string event;     // "ceremony.begin", "master.init", ...
  std::string actor;
  nlohmann::json data = nlohmann::json::object();
  std::string prev;  // hex hash of the previous entry (64 zeros for seq 0)
  std::string hash;  // hex SHA-256 of the canonical body
  std::string sig;   // base64 of r||s
};

// Canonical JSON of the entry without hash and sig: what `hash` is computed over.
std::string canonical_body(const Entry& e);
std::string body_hash(const Entry& e);
// The full line (canonical JSON, no trailing newline).
std::string to_line(const Entry& e);
// The same, given data_json = canonical_json(e.data) already made (a writer hashes and writes
// one entry: its data is serialized once).
std::string body_hash(const Entry& e, std::string_view data_json);
std::string to_line(const Entry& e, std::string_view data_json);
// Throws Error(integrity) naming the first missing or mistyped field.
Entry entry_from_json(const nlohmann::json& j);
// The same, moving the strings and data out of `j` instead of copying them.
Entry entry_from_json(nlohmann::json&& j);

std::string utc_now_rfc3339();
std::string new_ceremony_id();  // random UUID v4

}  // namespace hsm::transcript
