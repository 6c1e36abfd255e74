// The two files of a remote approval (hsmctl-quorum(5)): the request the ceremony host writes
// (what is to be done, the share set's commitments, the expiry and a one-use X25519 public key,
// all bound by one digest) and the approval a custodian writes on their own machine (their
// share sealed to that key and bound to that digest). Reading either checks it whole; nothing
// here holds or prints a share.
#pragma once

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/crypto/approval_seal.h"
#include "core/keystore/records.h"

namespace hsm::quorum {

inline constexpr const char* kRequestFormat = "hsmctl-quorum-request/1";
inline constexpr const char* kApprovalFormat = "hsmctl-quorum-approval/1";

// A request as read or made: `body` is everything but the digest, `digest` the SHA-256 of the
// body's canonical JSON (core/transcript/canonical_json.h).
struct Request {
  nlohmann::json body;
  Bytes digest;
  std::string digest_hex() const { return to_hex(digest); }
  std::string ceremony_id() const { return body.at("ceremony_id"); }
  std::string command() const { return body.at("operation").at("command"); }
  std::string expires() const { return body.at("expires"); }
  Bytes public_key() const { return from_hex(body.at("public_key").get<std::string>()); }
};

// Makes the body's digest; `body` must hold every member of the format.
Request make_request(nlohmann::json body);
// The file: the body with "digest" added.
std::string request_text(const Request& r);
// Reads and checks a request file: Error(not_found) when missing, Error(integrity) when it is
// not a request of this format or its digest does not match its contents.
Request read_request(const std::filesystem::path& path);

// The share set the request names, as the keystore would hold it (for check_share).
keystore::ShareSet share_set_of(const Request& r);
// The share set as the request states it.
nlohmann::json share_set_json(const keystore::ShareSet& set);

// The request in words, one fact a line, for custodians to read before they approve.
std::string describe(const Request& r);

struct Approval {
  std::string request_digest;  // hex
  std::string ceremony_id;
  std::string custodian;
  crypto::SealedShare sealed;
};
std::string approval_text(const Approval& a);
// Error(integrity) for a file that is not an approval of this format.
Approval parse_approval(std::string_view text);

// UTC times as the files write them ("2026-12-06T13:40:00Z").
std::string utc_text(std::time_t t);
// Error(integrity) for another form.
std::time_t parse_utc(const std::string& text);
// "30m", "90s", "2h", "1d": Error(usage) for anything else (or zero).
std::chrono::seconds parse_duration(const std::string& text);

}  // namespace hsm::quorum
