// The Signature Activation Data (SAD) of the CSC API (/csc/v2/credentials/authorize): a random
// bearer value, single-use and short-lived, bound to one credential, one client certificate and
// exactly the hashes authorised. The table lives in one shared anonymous mapping the supervisor
// makes before it forks, under a process-shared robust mutex, so whichever worker is asked
// redeems a SAD, and only once. It keeps the SHA-256 of each SAD, never the SAD itself, and
// the user's inner blob (already wrapped under MK-wrap on the token) sealed under a key derived
// from the SAD, so the table alone opens nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm {

inline constexpr int kDefaultSadTtlSeconds = 300;
inline constexpr int kMaxSadTtlSeconds = 3600;
inline constexpr std::size_t kMaxSadHashes = 16;  // credentials/info "multisign"
inline constexpr std::size_t kSadSlots = 256;

// What a SAD authorises.
struct SadGrant {
  std::string credential;     // the user
  std::string client;         // SHA-256 fingerprint (hex) of the client certificate
  std::string digest_alg;       // "sha256" or "sha384"
  std::vector<Bytes> hashes;  // exactly these, in any order
  std::int64_t key_version = 0;
};

// A redeemed SAD: the grant and the inner blob it carried.
struct RedeemedSad {
  SadGrant grant;
  Secret inner;
};

class SadStore {
 public:
  SadStore();  // maps the shared table; Error(general) if it cannot
  ~SadStore();
  SadStore(const SadStore&) = delete;
  SadStore& operator=(const SadStore&) = delete;

  // A new SAD (43 base64url characters) for `grant`, valid for `ttl`. Error(general) when the
  // table is full of live SADs (the caller answers 503), Error(usage) for more hashes than
  // kMaxSadHashes or an inner blob too large.
  std::string issue(const SadGrant& grant, const Secret& inner, std::chrono::seconds ttl);

  // Redeems `sad` for `credential`, `client` and exactly `hashes` (as a set) of `digest_alg`.
  // On success the SAD is gone for every worker. On refusal returns nullopt and sets `why` to
  // the CSC error_description: "Invalid parameter SAD" (unknown, used, another client's),
  // "SAD expired" (then removed), "Invalid parameter credentialID", "Hash is not authorized by
  // the SAD" (the SAD stays usable for its own hashes).
  std::optional<RedeemedSad> redeem(const std::string& sad, const std::string& credential,
                                    const std::string& client, const std::string& digest_alg,
                                    const std::vector<Bytes>& hashes, std::string& why);

 private:
  struct Shared;
  Shared* shared_ = nullptr;
};

}  // namespace hsm
