// PEM text for the artefacts core/x509 makes, and reading a certificate, CSR or CRL given as
// PEM or DER. Public data only: never reads or writes a private key.
#pragma once

#include <string>

#include "core/bytes.h"

namespace hsm::x509 {

enum class PemKind { certificate, certificate_request, crl, cms, public_key };

// "-----BEGIN CERTIFICATE-----" ... with the kind's standard label.
std::string to_pem(PemKind kind, ByteView der);

// The DER of the first PEM block of `kind` in `text` (a CSR may say NEW CERTIFICATE REQUEST,
// CMS may say PKCS7), or `text` itself when it is not PEM (the caller's parser then judges it).
// Throws Error(usage) when PEM holds no block of that kind.
Bytes from_pem_or_der(ByteView text, PemKind kind);

}  // namespace hsm::x509
