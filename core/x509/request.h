// Certificate signing requests (PKCS#10): making one for the signer's key, and reading one that
// is to be certified. Never trusts a CSR whose signature does not verify.
#pragma once

#include <string_view>

#include "core/bytes.h"
#include "core/x509/signer.h"

namespace hsm::x509 {

// A CSR (DER) for the signer's key with `subject` (as name.h reads it), signed by that key,
// no attributes. Verified with the key before it is returned.
Bytes certificate_request(std::string_view subject, Signer& signer);

// What a CSR asks to have certified, once its own signature has verified.
struct VerifiedRequest {
  Bytes subject;     // DER Name, not empty
  Bytes public_key;  // DER SubjectPublicKeyInfo
};
// `pem_or_der`: a PEM or DER CSR. Throws Error(integrity) "CSR signature does not verify" when
// it was altered or not signed by its own key; Error(usage) when it is not a CSR, its subject
// is empty, or its key is weak or unknown (RSA below 2048 bits, an EC curve other than
// P-256/384/521, DSA).
// Requested extensions are ignored: the profile decides what a certificate says.
VerifiedRequest read_certificate_request(ByteView pem_or_der);

}  // namespace hsm::x509
