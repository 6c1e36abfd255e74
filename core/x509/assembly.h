// Internal to core/x509: the one path every artefact takes from OpenSSL's to-be-signed encoding
// to signed DER that OpenSSL has parsed back and verified. Never returns an unverified artefact.
//
// Why the to-be-signed route and not an OpenSSL key: the private key stays in the token, so
// OpenSSL can never sign (X509_sign and friends need an EVP_PKEY that signs; making one means a
// custom provider, far more code). OpenSSL 3.0 also has no setter for the signature
// AlgorithmIdentifier inside a TBSCertificate or TBSCertList, and will not encode one left
// unset. So certificates and CRLs start from a skeleton parsed from DER that already carries the
// AlgorithmIdentifier; OpenSSL's ordinary setters fill in the rest, i2d_re_*_tbs gives the
// to-be-signed bytes, the Signer signs them, and core/x509/der.h frames
// SEQUENCE { tbs, algorithm, BIT STRING signature }. The result is parsed with OpenSSL and
// verified against the issuer's public key (like boulder's post-issuance check).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/x509/openssl_owned.h"
#include "core/x509/signer.h"

namespace hsm::x509 {

// The longest validity of a certificate, and the longest --next-update of a CRL: a hundred years.
inline constexpr int kMaxDays = 36525;

// DER AlgorithmIdentifier of the signatures a key of `a` makes (see signer.h).
Bytes signature_algorithm(KeyAlgorithm a);
// The signer's public key, checked against its algorithm: Error(general) when they differ.
crypto::Pkey signer_key(const Signer& signer);

// A v3 certificate for the subject key `spki` / a v2 CRL, whose signature AlgorithmIdentifier
// is that of `a`; every other field is a placeholder for the caller to set.
CertificatePtr certificate_skeleton(KeyAlgorithm a, ByteView spki);
CrlPtr crl_skeleton(KeyAlgorithm a);

// SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signer.sign(tbs) }.
Bytes signed_structure(ByteView tbs, Signer& signer);

// The to-be-signed encodings of what was built (re-encoded, never a stale cache).
Bytes tbs_of(X509* cert);
Bytes tbs_of(X509_REQ* request);
Bytes tbs_of(X509_CRL* crl);

// Parse DER that must be exactly one value: Error(category, message) otherwise.
CertificatePtr parse_certificate(ByteView der, Category category, const std::string& message);
RequestPtr parse_request(ByteView der, Category category, const std::string& message);
CrlPtr parse_crl(ByteView der, Category category, const std::string& message);
// Names come from subject_name() or from OpenSSL's own parsing: Error(general) when malformed.
NamePtr parse_name(ByteView der);
Bytes name_der(const X509_NAME* name);
Bytes spki_der(const X509_PUBKEY* spki);

// The post-issuance check: Error(integrity) naming `what` unless `verified` (the result of
// X509_verify, X509_REQ_verify, X509_CRL_verify or CMS_verify) is 1.
void require_signature_verifies(int verified, const std::string& what);

// Key identifier of RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
Bytes key_identifier(const X509_PUBKEY* spki);
// The issuer's subjectKeyIdentifier, or method 1 over its key when it has none.
Bytes issuer_key_identifier(X509* issuer);

// "2031-05-01 12:00:00 UTC".
std::string time_text(const ASN1_TIME* t);

}  // namespace hsm::x509
