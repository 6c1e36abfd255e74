// Public keys and signature checks with OpenSSL 3: DER SubjectPublicKeyInfo built from a
// token's public key attributes, PEM output, fingerprints, and verification of what the token
// signed. Handles public data only; never sees a private key.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace hsm::crypto {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// The DER curve OIDs (what CKA_EC_PARAMS holds) of prime256v1 and secp384r1.
const Bytes& p256_params_der();
const Bytes& p384_params_der();

// SPKI (DER) of an EC public key from the curve's DER OID parameters (CKA_EC_PARAMS) and the
// uncompressed point (the content of CKA_EC_POINT, with or without its OCTET STRING wrapper).
Bytes ec_spki(ByteView ec_params_der, ByteView ec_point);
// SPKI (DER) of an RSA public key from modulus and public exponent (big-endian).
Bytes rsa_spki(ByteView modulus, ByteView exponent);
// SPKI (DER) of an Ed25519 public key from the 32-byte key.
Bytes ed25519_spki(ByteView key32);

// What a token's public key object needs, taken from a DER SPKI.
struct PublicParts {
  Bytes ec_point;  // DER OCTET STRING around the uncompressed point (CKA_EC_POINT); EC only
  Bytes modulus, exponent;  // RSA only
};
PublicParts public_parts(ByteView spki_der);

Pkey load_spki(ByteView spki_der);           // throws Error(integrity) when malformed
Pkey load_public_pem(std::string_view pem);  // throws Error(usage) when malformed
Bytes spki_der(const EVP_PKEY* key);
// True for an EC key on NIST P-256.
bool is_p256(const EVP_PKEY* key);
std::string spki_pem(ByteView spki_der);
// Hex SHA-256 of the DER SPKI: the fingerprint hsmctl prints and records.
std::string fingerprint(ByteView spki_der);

// ECDSA: raw r||s (as PKCS#11 returns it) <-> DER ECDSA-Sig-Value.
Bytes ecdsa_raw_to_der(ByteView raw);
Bytes ecdsa_der_to_raw(ByteView der, std::size_t field_size);

// Verifies an ECDSA signature (raw r||s) over SHA-256(message).
bool verify_ecdsa_sha256(const EVP_PKEY* key, ByteView message, ByteView raw_signature);

// Verifies a signature in its standard encoding (DER ECDSA, RSA-PSS SHA-256 salt 32, Ed25519)
// made by the key `spki` of hsmctl algorithm `algorithm` ("ec-p256", "rsa-3072", ...).
bool verify_signature(ByteView spki, const std::string& algorithm, ByteView data, ByteView sig);

Bytes sha256(ByteView data);
Bytes sha384(ByteView data);

}  // namespace hsm::crypto
