// X.509 v3 certificates signed by a key OpenSSL never holds (core/x509/signer.h): self-signed
// roots, and certificates issued from a CSR under one of hsmctl's profiles. Never returns a
// certificate that does not verify against its issuer's public key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/x509/signer.h"

namespace hsm::x509 {

// ca:   basicConstraints critical CA:TRUE (pathLen if given), keyUsage critical keyCertSign,
//       cRLSign.
// leaf: basicConstraints critical CA:FALSE, keyUsage critical digitalSignature.
// code: as leaf, plus extKeyUsage codeSigning.
// All: subjectKeyIdentifier (RFC 5280 method 1) and authorityKeyIdentifier (the issuer's).
enum class Profile { ca, leaf, code };
std::string profile_name(Profile p);
Profile profile_from_name(std::string_view name);  // Error(usage) for anything else

struct CertificateTerms {
  Bytes serial;  // exactly 20 bytes from the token RNG; the top bit is cleared (positive)
  int days = 0;  // valid from now until now + days, 1..36525
  Profile profile = Profile::ca;
  std::optional<int> path_length;  // ca only: pathLenConstraint, >= 0
};

// Error(usage) for terms no certificate can have; what a ceremony's validate() calls.
void check_terms(const CertificateTerms& terms);

// A self-signed certificate for the signer's key; `subject` as name.h reads it.
Bytes self_signed_certificate(std::string_view subject, const CertificateTerms& terms,
                              Signer& signer);

// A certificate for the subject and key of `csr` (PEM or DER), issued by `issuer_certificate`
// (PEM or DER), whose key is the signer's. Refuses: a CSR whose signature does not verify
// (integrity); an issuer certificate of another key, not a CA, whose pathLen forbids this, or
// that ends before now + days (general).
Bytes issue_certificate(ByteView csr, ByteView issuer_certificate, const CertificateTerms& terms,
                        Signer& signer);

// What a ceremony records and prints about a certificate (PEM or DER; Error(usage) otherwise).
struct CertificateFacts {
  std::string subject, issuer;  // RFC 4514 text
  std::string serial_hex;       // upper-case hex, as `openssl x509 -serial` prints it
  std::int64_t not_before = 0, not_after = 0;  // seconds since the epoch
  Bytes public_key;                            // DER SubjectPublicKeyInfo
};
CertificateFacts read_certificate(ByteView pem_or_der);

}  // namespace hsm::x509
