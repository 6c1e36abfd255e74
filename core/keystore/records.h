// The rows of the keystore as plain structs: public facts and wrapped (encrypted) blobs only.
// No field may ever hold plaintext key material, a password, a share or an OTP secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace hsm::keystore {

// Times are RFC 3339 UTC text ("2026-11-23T12:00:00Z"), supplied by the caller so that they
// match the transcript entry of the same change.

// ---- master secret and its custodian shares ----

// One custodian's share of a share set: who holds it and a public commitment to it, so that a
// bad share can be named without revealing anything about the secret.
struct CustodianRecord {
  std::string name;
  int group_index = 0;   // SLIP-0039 group (0 when single-level)
  int member_index = 0;  // SLIP-0039 member index within the group
  std::string commitment;  // hex
  bool operator==(const CustodianRecord&) const = default;
};

// One SLIP-0039 split of the master secret. `master init` makes generation 1; each
// `master reshare` makes the next one and retires all earlier ones.
struct ShareSet {
  std::int64_t generation = 0;  // assigned by the keystore
  int identifier = 0;           // SLIP-0039 15-bit identifier
  bool extendable = false;
  int iteration_exponent = 0;
  int group_threshold = 1;              // groups needed (1 when single-level)
  std::vector<int> member_thresholds;   // per group index; single-level: {M}
  std::vector<std::string> group_names;  // per group index; empty for a single-level set
  std::vector<CustodianRecord> custodians;
  std::string created;
  std::int64_t created_seq = 0;  // transcript seq of the event that issued the set
  bool retired = false;          // derived: any generation but the master's current one
  bool operator==(const ShareSet&) const = default;
};

// The workspace's master secret: never the secret itself, only what identifies and checks it.
struct MasterRecord {
  std::string kcv;  // hex CKA_CHECK_VALUE of MK-wrap
  std::string created;
  std::int64_t created_seq = 0;  // transcript seq of master.init (or of the restore that made it)
  bool active = true;
  ShareSet shares;  // the current share set
  // How keys are derived from MK-derive: "aes-ecb" or "hmac-sha256" (the fallback for tokens
  // without AES-ECB-ENCRYPT-DATA). Kept in meta, key "kek_derivation"; absent = "aes-ecb".
  std::string kek_derivation = "aes-ecb";
  bool operator==(const MasterRecord&) const = default;
};

// ---- signing keys (offline signing, quorum keys, the escrowed transcript key) ----

struct KeyRecord {
  std::string label;      // unique
  std::string key_id;     // hex, the token object's id; unique
  std::string algorithm;  // "ec-p256", "ec-p384", "ed25519", "rsa-3072", "rsa-4096"
  std::string purpose;    // "ca", "code", "generic", "transcript"
  int quorum = 0;         // shares needed to use it; 0 = no quorum
  std::string escrow;     // "mk-wrap", "qk" (quorum keys) or "none" (born non-extractable)
  std::optional<Bytes> wrapped_key;  // private key wrapped at birth; absent iff escrow "none"
  Bytes public_key;                  // DER SubjectPublicKeyInfo
  std::string created;
  std::int64_t crl_number = 0;  // last CRL number issued with this key; see next_crl_number
  std::string status = "active";  // "active" or "retired"
  bool operator==(const KeyRecord&) const = default;
};

// A certificate revoked by a CA key: every later CRL from that key lists it.
struct Revocation {
  std::string serial;  // hex
  std::string reason;  // RFC 5280 reason name, "unspecified" by default
  std::string revoked;
  bool operator==(const Revocation&) const = default;
};

// ---- user keys ----

// AES-256-GCM ciphertext (tag included) and its nonce.
struct SealedBlob {
  Bytes ciphertext;
  Bytes nonce;
  bool operator==(const SealedBlob&) const = default;
};

// Argon2id parameters of a user's password (libsodium's opslimit/memlimit).
struct KdfParams {
  std::string profile;  // "interactive", "moderate", "sensitive" or "min"
  Bytes salt;
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
  bool operator==(const KdfParams&) const = default;
};

// Everything sealed under the user's password-derived KEK: what `user passwd` replaces at once.
struct UserSecrets {
  std::int64_t key_version = 1;  // bound into the outer layers' AAD
  KdfParams kdf;
  SealedBlob signing_key;               // outer layer over the signing key's inner (MK-wrap) blob
  std::optional<SealedBlob> ecdh_key;   // outer layer over the ECDH key's inner blob
  bool operator==(const UserSecrets&) const = default;
};

struct OtpState {
  std::optional<SealedBlob> seed;  // TOTP seed sealed under a key derived from MK-derive
  bool enrolled = false;
  std::int64_t last_step = 0;  // last accepted TOTP time step; a code is accepted once
  bool operator==(const OtpState&) const = default;
};

struct UserRecord {
  std::string name;       // unique
  std::string algorithm;  // "p256", "p384", "ed25519", "rsa3072"
  Bytes public_key;       // DER SubjectPublicKeyInfo of the signing key
  std::optional<Bytes> ecdh_public_key;  // DER SPKI; group keys are sealed to it
  UserSecrets secrets;
  OtpState otp;
  std::int64_t failures = 0;  // consecutive wrong passwords / OTP codes
  bool locked = false;
  std::string created;
  std::string rotated;  // last change of secrets (= created at first)
  bool operator==(const UserRecord&) const = default;
};

// Result of counting one more failed authentication.
struct AuthFailures {
  std::int64_t failures = 0;
  bool locked = false;
  // Locked before this failure: a guess that was in flight when the account locked. It is
  // counted, and answered as a locked account is (no oracle for guesses made after the lock).
  bool was_locked = false;
};

// The end of an authentication whose factors were right (Keystore::accept_authentication).
enum class AuthAcceptance {
  accepted,  // the failures reset and the code's step marked used
  locked,    // the user was locked meanwhile: refused as a locked user
  reused,    // the code's step (or a later one) was accepted meanwhile
};

// ---- group keys ----

struct GroupRecord {
  std::string name;  // unique
  std::string algorithm;
  Bytes public_key;  // DER SubjectPublicKeyInfo
  // No inner blob here: the private key wrapped under MK-wrap exists only inside the members'
  // sealed layers, so nobody without a member's password can unwrap it.
  std::int64_t key_version = 1;  // incremented when the key is rotated (member removed)
  std::string created;
  bool operator==(const GroupRecord&) const = default;
};

// One member's outer layer over the group's inner blob, sealed to the member's ECDH key.
struct GroupMember {
  std::string group;
  std::string user;
  SealedBlob sealed_key;        // the group's inner blob, AES-GCM under the agreed key
  Bytes ephemeral_public_key;  // DER SPKI: the sender's one-use half of the key agreement
  std::string added;
  bool operator==(const GroupMember&) const = default;
};

}  // namespace hsm::keystore
