// Key operations in hsmctl's words: generate, find, sign, wrap/unwrap escrow blobs, derive.
// Templates come from templates.h only. Handles are plain numbers valid for one session.
#pragma once

#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/templates.h"

namespace hsm::p11 {

using KeyHandle = unsigned long;

struct KeyPair {
  KeyHandle public_key = 0;
  KeyHandle private_key = 0;
};


// Generates a pair from templates (C_GenerateKeyPair with the algorithm's mechanism).
KeyPair generate_pair(const Session& s, KeyAlgorithm algorithm, PairTemplates& templates);
// Creates an object from a template (C_CreateObject).
KeyHandle create_object(const Session& s, Template& t);

// The private key, public key or secret key with this CKA_ID (and class).
std::optional<KeyHandle> find_private_key(const Session& s, ByteView id);
std::optional<KeyHandle> find_public_key(const Session& s, ByteView id);
std::optional<KeyHandle> find_secret_key(const Session& s, const std::string& label);

// DER SubjectPublicKeyInfo of a public key object.
Bytes public_key_spki(const Session& s, KeyHandle public_key);
// The same for a key pair we just generated with `algorithm`: one attribute call.
Bytes public_key_spki(const Session& s, KeyHandle public_key, KeyAlgorithm algorithm);

// Wraps `key` under `wrapping` with AES-KWP (RFC 5649): the escrow blob.
Bytes wrap_key(const Session& s, KeyHandle wrapping, KeyHandle key);
// Unwraps an AES-KWP blob into a new object described by `t`. A blob that is tampered with or
// was wrapped under another key throws Error(integrity).
KeyHandle unwrap_key(const Session& s, KeyHandle wrapping, ByteView blob, Template& t);
// The token's CKA_CHECK_VALUE of a secret key, if it reports one.
std::optional<Bytes> check_value(const Session& s, KeyHandle key);

// Signs `data` with the hash the mechanism names. ECDSA results are raw r||s.
Bytes sign(const Session& s, KeyHandle key, SignMechanism mechanism, ByteView data);
// Signs a digest made elsewhere with the hash the (ECDSA) mechanism names; raw r||s. Any other
// mechanism is Error(usage). The caller checks the digest's length.
Bytes sign_digest(const Session& s, KeyHandle key, SignMechanism mechanism, ByteView digest);

}  // namespace hsm::p11
