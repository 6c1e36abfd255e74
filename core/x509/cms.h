// Detached CMS SignedData signatures (RFC 5652) made by a key OpenSSL never holds, that
// `openssl cms -verify -binary -content FILE -inform DER -CAfile ROOT` accepts. Never returns
// one that does not verify.
#pragma once

#include <vector>

#include "core/bytes.h"
#include "core/x509/signer.h"

namespace hsm::x509 {

// A DER ContentInfo (SignedData, content detached) over `content`, with signed attributes
// contentType, messageDigest (SHA-256; SHA-384 for ec-p384) and signingTime; the signature is
// over the DER SET of those attributes. Carries `signer_certificate` (PEM or DER; it must
// certify the signer's key, else Error(general)) and the certificates of `chain`
// (intermediates, PEM or DER each). Ed25519 is refused (usage): OpenSSL 3 cannot verify
// Ed25519 in CMS (RFC 8419 support is missing), so use a raw signature for those keys.
Bytes cms_detached_signature(ByteView content, ByteView signer_certificate, Signer& signer,
                             const std::vector<Bytes>& chain = {});

}  // namespace hsm::x509
