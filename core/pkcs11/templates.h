// The custody contract in one place: every key template hsmctl hands to a token is built by one
// named function here. No other file sets CKA_SENSITIVE, CKA_EXTRACTABLE or CKA_MODIFIABLE.
// Rule of the file: private and secret keys are sensitive; token keys are non-extractable and
// not modifiable (CKA_MODIFIABLE=false always last, see template.h); every key is limited to
// the mechanisms it needs with CKA_ALLOWED_MECHANISMS.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/template.h"
#include "core/secure/secret.h"

namespace hsm::p11 {

// How keys are derived from MK-derive (and from an ECDH agreed secret): chosen at master init,
// recorded in the keystore, the transcript and backups (docs/design.md, "Which tokens can keep
// the contract"). The base key's type says which: AES for aes_ecb (CKM_AES_ECB_ENCRYPT_DATA),
// generic secret for hmac_sha256 (CKM_SHA256_HMAC by C_Sign).
enum class KekDerivation { aes_ecb, hmac_sha256 };

enum class KeyAlgorithm { ec_p256, ec_p384, rsa3072, rsa4096, ed25519 };
enum class SignMechanism { ecdsa_sha256, ecdsa_sha384, rsa_pss_sha256, rsa_pkcs1_sha256, eddsa };
using Mechanisms = std::vector<SignMechanism>;

// The PKCS#11 mechanism a signature uses (ECDSA: the host hashes, see keys.cpp).
CK_MECHANISM_TYPE mechanism_type(SignMechanism m);

struct PairTemplates {
  Template public_key;
  Template private_key;
};

// Names of the curves' DER OIDs (CKA_EC_PARAMS).
Bytes ec_params(KeyAlgorithm algorithm);

// The provisional transcript key: an EC P-256 pair born on the token, never extractable, not
// modifiable, signing only with ECDSA (the host hashes:
// SoftHSM 2.6.1 has no CKM_ECDSA_SHA256). It can never be backed up (by design).
PairTemplates provisional_transcript_key(const std::string& label, ByteView id);

// MK-wrap (C_CreateObject from HMAC(S, "hsmctl v1 wrap")): wraps/unwraps with AES-KWP only;
// whatever it unwraps must be sensitive and non-extractable (CKA_UNWRAP_TEMPLATE).
Template master_wrap_key(const std::string& label, ByteView id, const Secret& value);
// MK-derive: derives with AES-ECB-ENCRYPT-DATA only (an AES key); or, for hmac_sha256, a generic
// secret that signs with CKM_SHA256_HMAC only. Either way every other usage is false.
Template master_derive_key(const std::string& label, ByteView id, const Secret& value,
                           KekDerivation derivation = KekDerivation::aes_ecb);
// QK as a session object, alive only while a quorum ceremony runs; same rules as MK-wrap.
Template quorum_session_key(const Secret& value);

// A pair generated as session objects to be escrowed at birth: the private key is sensitive
// but extractable so it can be wrapped once under MK-wrap or QK, then destroyed.
PairTemplates escrow_session_pair(KeyAlgorithm algorithm);

// Unwrap templates for escrow blobs. A token copy: sensitive, non-extractable, not modifiable,
// signing only with `mechanisms` of its purpose. A session copy: the same, for one use.
Template escrowed_token_private_key(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                                    const Mechanisms& mechanisms);
Template escrowed_session_private_key(KeyAlgorithm algorithm, const Mechanisms& mechanisms);
// The public half stored on the token beside an escrowed token key.
Template token_public_key(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                          ByteView ec_point_or_empty, ByteView modulus, ByteView exponent);

// A pair born on the token for a key that can never be escrowed (Ed25519 on tokens that cannot
// wrap EdDSA keys, `key generate --no-backup`): never extractable, not modifiable.
PairTemplates born_token_key_pair(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                                  const Mechanisms& mechanisms);

// The one-use RSA-3072 transport pair of import by unwrapping (a token that refuses
// C_CreateObject of secret keys): session objects; the private key is sensitive, never
// extractable, and can only unwrap with CKM_RSA_PKCS_OAEP; the public key only encrypts.
PairTemplates transport_key_pair();
// The C_UnwrapKey template for importing the key a C_CreateObject template `created` describes:
// the same attributes without CKA_VALUE, with CKA_CHECK_VALUE when `check_value` is not empty
// (a token computes it only for keys it was given in plaintext), CKA_MODIFIABLE=false last.
Template unwrapped_import(const Template& created, ByteView check_value);

// A session AES-256 key unwrapped under MK-wrap only to prove that MK-wrap holds the value the
// host derived (a token that computes no check value for unwrapped keys): sensitive, not
// extractable, no usage at all.
Template wrap_proof_key();

// The host-GCM fallback (a token without CKM_AES_GCM): a session AES-256 key derived from
// MK-derive (or an agreed secret) only to be read and destroyed at once: not sensitive,
// extractable, no usage at all. Its value is what a PIN holder can derive for a known input.
Template readable_derived_key();

// A user KEK derived from MK-derive: a session AES-256 key for AES-GCM only.
Template user_kek();
// A derive template (user_kek, otp_seal_key, group_layer_key) as a C_CreateObject template for
// the same key with `value` (the HMAC fallback): CKA_VALUE instead of CKA_VALUE_LEN, every
// other attribute the same, CKA_MODIFIABLE=false still last.
Template imported_session_key(const Template& derived, const Secret& value);

// Group keys (docs/design.md, "Key hierarchy"): each user's key-agreement pair (ECDH P-256),
// escrowed at birth like a user key: the private key can only derive with ECDH, sensitive,
// extractable only so that it is wrapped once under MK-wrap and destroyed.
PairTemplates agreement_session_pair();
// The unwrap template of a key-agreement private key for one use: sensitive, non-extractable,
// not modifiable, ECDH only.
Template agreement_session_private_key();
// The one-use pair that seals a member's layer of a group key: never extractable, ECDH only.
PairTemplates ephemeral_agreement_pair();
// The raw ECDH secret (CKD_NULL: the x-coordinate) as a session AES-256 key that can only
// derive (AES-ECB-ENCRYPT-DATA), so its value never leaves the token; for hmac_sha256 a
// 32-byte generic secret that can only sign with CKM_SHA256_HMAC.
Template agreed_secret(KekDerivation derivation = KekDerivation::aes_ecb);
// The key that seals a member's layer, derived from the agreed secret: AES-GCM only.
Template group_layer_key();

// Group data keys (docs/design.md, "Group data keys"): the key that unwraps one DEK, derived
// from the agreed secret with AES-ECB-ENCRYPT-DATA: unwraps with AES key wrap (RFC 3394) only.
Template dek_unwrapping_key();
// A DEK unwrapped to decrypt data on the token: sensitive, non-extractable, not modifiable,
// AES-GCM decryption only; a session object for one file.
Template data_decryption_key();
// A DEK unwrapped to be handed to the caller (`dek open`, documented as leaving the HSM
// boundary): a session key, neither sensitive nor usable for anything; its value is read once
// and the object destroyed.
Template opened_data_key();
// A DEK unwrapped only to be wrapped again (`dek rewrap`): a session key, sensitive, with no
// usage at all, and extractable because C_WrapKey needs CKA_EXTRACTABLE; CKA_WRAP_WITH_TRUSTED
// stays false because a user session cannot make the new KEK CKA_TRUSTED (SoftHSM lets only
// the security officer set it). It lives in this process's session only and is destroyed as
// soon as it is wrapped (docs/design.md, "Group data keys").
Template rewrapped_data_key();
// The KEK that wraps a DEK to the group's current key version (`dek rewrap`), derived on the
// token from the agreed secret of a one-use pair: wraps with AES key wrap (RFC 3394) only.
Template dek_wrapping_key();

// The key that seals a user's TOTP seed, derived from MK-derive: a session AES-256 key for
// AES-GCM only, sensitive and non-extractable, like user_kek().
Template otp_seal_key();

}  // namespace hsm::p11
