// The sealing of a custodian's share to a remote-approval request (docs/design.md, "Remote
// approval"): X25519 between the request's one-use key and a fresh key of the approver,
// HKDF-SHA256 bound to the request digest, AES-256-GCM with the digest and the custodian as
// associated data. The request's private key and every derived key live only in Secrets;
// nothing here writes, logs or keeps anything.
#pragma once

#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::crypto {

struct X25519KeyPair {
  Secret private_key;  // 32 bytes, never leaves the process
  Bytes public_key;    // 32 bytes
};

// A new key pair from OpenSSL (EVP_PKEY_X25519).
X25519KeyPair x25519_generate();

// What an approval carries besides its public facts.
struct SealedShare {
  Bytes ephemeral_public;  // the approver's one-use X25519 public key
  Bytes nonce;             // 12 bytes
  Bytes sealed;            // AES-256-GCM ciphertext || tag
};

// Seals `share` to the request's public key, bound to its digest and to `custodian`.
// Error(integrity) for a public key that is not a usable X25519 key.
SealedShare seal_share(ByteView request_public, ByteView request_digest,
                       std::string_view custodian, const Secret& share);

// Opens what seal_share made for this request: nullopt when it does not authenticate (another
// request's key or digest, another custodian's name, or any flipped byte).
std::optional<Secret> open_share(const X25519KeyPair& request_key, ByteView request_digest,
                                 std::string_view custodian, const SealedShare& s);

}  // namespace hsm::crypto
