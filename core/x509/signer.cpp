// Key algorithm names, the signature AlgorithmIdentifier each one fixes, and the check that a
// Signer's public key really is of its algorithm. Pinned DER, compared with OpenSSL's own in
// tests/x509/algorithm_test.cpp.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "core/x509/assembly.h"

namespace hsm::x509 {

namespace {

struct AlgorithmFacts {
  KeyAlgorithm algorithm;
  const char* name;
  Bytes identifier;  // DER AlgorithmIdentifier of the signature
};

// RSASSA-PSS (1.2.840.113549.1.1.10) { sha256, mgf1 sha256, saltLength 32 } (RFC 4055).
const Bytes kRsaPssSha256{0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
                          0x0a, 0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                          0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a,
                          0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
                          0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
                          0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20};

const AlgorithmFacts kAlgorithms[] = {
    // ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758)
    {KeyAlgorithm::ec_p256,
     "ec-p256",
     {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}},
    // ecdsa-with-SHA384 (1.2.840.10045.4.3.3)
    {KeyAlgorithm::ec_p384,
     "ec-p384",
     {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}},
    {KeyAlgorithm::rsa_3072, "rsa-3072", kRsaPssSha256},
    {KeyAlgorithm::rsa_4096, "rsa-4096", kRsaPssSha256},
    // id-Ed25519 (1.3.101.112), parameters absent (RFC 8410)
    {KeyAlgorithm::ed25519, "ed25519", {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70}},
};

const AlgorithmFacts& facts(KeyAlgorithm a) {
  for (const AlgorithmFacts& f : kAlgorithms)
    if (f.algorithm == a) return f;
  fail(Category::general, "unknown key algorithm");
}

bool key_is(const EVP_PKEY* key, KeyAlgorithm a) {
  char group[64] = {};
  size_t len = 0;
  const auto ec_group_is = [&](std::string_view want) {
    return EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &len) == 1 &&
           std::string_view(group) == want;
  };
  switch (a) {
    case KeyAlgorithm::ec_p256: return ec_group_is("prime256v1");
    case KeyAlgorithm::ec_p384: return ec_group_is("secp384r1");
    case KeyAlgorithm::rsa_3072: return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 3072;
    case KeyAlgorithm::rsa_4096: return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 4096;
    case KeyAlgorithm::ed25519: return EVP_PKEY_is_a(key, "ED25519");
  }
  return false;
}

}  // namespace

std::string key_algorithm_name(KeyAlgorithm a) { return facts(a).name; }

KeyAlgorithm key_algorithm_from_name(std::string_view name) {
  for (const AlgorithmFacts& f : kAlgorithms)
    if (name == f.name) return f.algorithm;
  fail(Category::usage, "unknown key algorithm '" + std::string(name) +
                            "'; use ec-p256, ec-p384, rsa-3072, rsa-4096 or ed25519");
}

Bytes signature_algorithm(KeyAlgorithm a) { return facts(a).identifier; }

crypto::Pkey signer_key(const Signer& signer) {
  crypto::Pkey key = crypto::load_spki(signer.public_key());
  if (!key_is(key.get(), signer.algorithm()))
    fail(Category::general, "the signing key's public key is not " +
                                key_algorithm_name(signer.algorithm()) +
                                "; the keystore record and the token disagree");
  return key;
}

}  // namespace hsm::x509
