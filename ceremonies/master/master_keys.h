// The keys the master secret S governs, on the token: MK-wrap and MK-derive (derived on the
// host, imported frozen), and escrow at birth (a key pair made as session objects, wrapped at
// once under MK-wrap or QK, then installed from that blob). S and every derived value stay in
// locked memory and are dropped as soon as the token holds what it needs.
#pragma once

#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/error.h"
#include "core/keystore/records.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/module.h"
#include "core/secure/secret.h"

namespace hsm {

inline constexpr const char* kMasterWrapLabel = "hsmctl-mk-wrap";
inline constexpr const char* kMasterDeriveLabel = "hsmctl-mk-derive";

struct MasterKeys {
  p11::KeyHandle wrap = 0, derive = 0;
  std::string kcv;  // hex CKA_CHECK_VALUE of MK-wrap
  // What MK-derive was made for (its key type on the token).
  p11::KekDerivation derivation = p11::KekDerivation::aes_ecb;
};

// HMAC-SHA256(S, label) for the four labels of docs/design.md.
Secret derive_wrap_key(const Secret& master);
Secret derive_derive_key(const Secret& master);
Secret derive_quorum_key(const Secret& master);
Secret derive_backup_key(const Secret& master);
// The KCV the token will report for MK-wrap derived from S (hex).
std::string master_kcv(const Secret& master);

std::optional<MasterKeys> find_master_keys(const p11::Session& s);
// Derives and imports MK-wrap and MK-derive (made for `derivation`); checks the token's KCV
// against the host's. On any failure nothing is left on the token.
MasterKeys import_master_keys(const p11::Session& s, const Secret& master,
                              p11::KekDerivation derivation);

// The KEK derivation a workspace records ("aes-ecb" when it records none: every workspace made
// before the fallback existed), or Error(integrity) for a name hsmctl does not write.
p11::KekDerivation recorded_derivation(const std::string& name);
// Error(token) unless the token can derive keys with `d` (tried on session objects), naming
// what it refused; `what` is the ceremony, `state` the token's state meanwhile.
void require_derivation(const p11::Session& s, p11::KekDerivation d, const std::string& token,
                        const std::string& what, const std::string& state);
// What hsmctl uses at master init: `wanted` if given (Error(token) if the token cannot), else
// AES-ECB-ENCRYPT-DATA where the token derives with it, else HMAC-SHA256.
p11::KekDerivation choose_derivation(const p11::Session& s,
                                     std::optional<p11::KekDerivation> wanted,
                                     const std::string& token);

struct EscrowedKey {
  p11::KeyAlgorithm algorithm;
  Bytes blob;  // private key wrapped under the governing key (AES-KWP)
  Bytes spki;  // DER SubjectPublicKeyInfo
};

// Generates a pair as session objects, wraps the private key under `wrapping`, destroys both.
EscrowedKey generate_escrowed(const p11::Session& s, p11::KeyAlgorithm algorithm,
                              p11::KeyHandle wrapping);
// Error(token) for a module that refused C_WrapKey on a key (`refused`, a TokenError for which
// p11::refused_as_not_wrappable holds): names the module, the refused call and its return code,
// then says what could not be done and the way out. Asked of the token, never assumed.
[[noreturn]] void fail_not_wrappable(const p11::Module& module, const std::string& token,
                                     const std::string& key_kind, const Error& refused,
                                     const std::string& consequence);
// Installs an escrow blob as a token key pair: the private key unwrapped under `wrapping`
// (sensitive, non-extractable, not modifiable, `mechanisms` only) and its public key.
p11::KeyPair install_escrowed(const p11::Session& s, const EscrowedKey& key,
                              p11::KeyHandle wrapping, const std::string& label, ByteView id,
                              const p11::Mechanisms& mechanisms);

// The workspace's escrowed transcript key: an ECDSA P-256 pair escrowed at birth under MK-wrap
// and installed on the token as hsmctl-transcript with a random CKA_ID.
struct EscrowedTranscriptKey {
  EscrowedKey key;
  Bytes id;
  p11::KeyPair pair;
};
EscrowedTranscriptKey create_escrowed_transcript_key(const p11::Session& s, p11::KeyHandle wrap);
// Its keystore record (purpose "transcript", escrow "mk-wrap"), which backups carry.
keystore::KeyRecord transcript_key_record(const EscrowedTranscriptKey& key, const std::string& created);

}  // namespace hsm
