// The token work behind the CSC API of `hsmctl serve`: credentials/authorize authenticates the
// user as `user sign` does (password as PIN, TOTP code as OTP; counted, locking failures) and
// issues a SAD bound to the hashes (sad_store.h); signatures/signHash redeems it once and signs
// each hash, every signature recorded as user.signed before the answer exists. Never records or
// returns a secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ceremonies/service/sad_store.h"
#include "ceremonies/service/service_sign.h"
#include "ceremonies/workspace.h"
#include "core/bytes.h"
#include "core/keystore/records.h"
#include "core/secure/secret.h"

namespace hsm {

struct CscAuthorizeRequest {
  std::string credential;  // the user
  std::vector<Bytes> hashes;
  std::string digest_alg;    // "sha256" or "sha384"
  std::shared_ptr<const Secret> pin, otp;  // the password; the code (null without one)
  std::string client;      // SHA-256 fingerprint (hex) of the client's certificate
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  std::chrono::seconds ttl{kDefaultSadTtlSeconds};
};

struct CscAuthorization {
  std::string sad;
  std::uint64_t seq = 0;  // of the user.authorized entry
};

// Error(not_found) for an unknown user, Error(usage) for a key that cannot sign these hashes,
// Error(auth) for wrong or missing factors or a locked user (with `outcome` filled).
CscAuthorization csc_authorize(Workspace& ws, SadStore& sads, const CscAuthorizeRequest& r,
                               AuthOutcome& outcome);

struct CscSignRequest {
  std::string credential, sad, client, digest_alg;
  std::vector<Bytes> hashes;
};

struct CscSignatures {
  std::vector<Bytes> signatures;  // DER, in the order of the hashes
  std::vector<std::uint64_t> seqs;
};

// Redeems the SAD, before the request joins a batch (a refusal is Error(usage) with the CSC
// error_description as its message).
RedeemedSad redeem_sad(SadStore& sads, const CscSignRequest& r);

// Inside the ceremony `rec` of a batch (group_commit.h): signs each hash with what the SAD
// carries, each recorded as a user.signed entry. A user locked or whose key changed since the
// authorisation is Error(auth).
CscSignatures csc_sign_hashes(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                              const CscSignRequest& r, RedeemedSad& redeemed);

// The hash algorithm a user's key signs digests of ("sha256", "sha384"), or "" (data only).
std::string csc_hash_alg(const keystore::UserRecord& user);

}  // namespace hsm
