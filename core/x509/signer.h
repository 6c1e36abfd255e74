// The key that signs certificates, CSRs, CRLs and CMS signatures without OpenSSL ever holding
// it: in hsmctl a private key inside the token, reached through PKCS#11. Names no PKCS#11 type.
#pragma once

#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm::x509 {

// The signing key's algorithm; it fixes the signature AlgorithmIdentifier hsmctl writes:
// ec-p256 ecdsa-with-SHA256, ec-p384 ecdsa-with-SHA384, rsa-3072/rsa-4096 RSASSA-PSS with
// SHA-256, MGF1-SHA-256 and a 32-byte salt, ed25519 Ed25519.
enum class KeyAlgorithm { ec_p256, ec_p384, rsa_3072, rsa_4096, ed25519 };

// "ec-p256", "ec-p384", "rsa-3072", "rsa-4096", "ed25519": the names the keystore records.
std::string key_algorithm_name(KeyAlgorithm a);
// Throws Error(usage) for any other name.
KeyAlgorithm key_algorithm_from_name(std::string_view name);

// Signs the complete to-be-signed bytes it is given (the signer hashes, or has the token hash)
// and returns the signature as the structure carries it: ECDSA a DER ECDSA-Sig-Value, RSA-PSS
// and Ed25519 the raw signature. Every result is verified before anything is returned, so a
// wrong signature is caught as Error(integrity), never written.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual KeyAlgorithm algorithm() const = 0;
  // DER SubjectPublicKeyInfo of the signing key.
  virtual Bytes public_key() const = 0;
  virtual Bytes sign(ByteView to_be_signed) = 0;
};

}  // namespace hsm::x509
