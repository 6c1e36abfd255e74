// Certificate revocation lists (RFC 5280 v2) signed by a key OpenSSL never holds. Never returns
// a CRL that does not verify against the issuer's public key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/x509/signer.h"

namespace hsm::x509 {

// RFC 5280 5.3.1 CRLReason (7 is unused).
enum class RevocationReason {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  certificate_hold = 6,
  remove_from_crl = 8,
  privilege_withdrawn = 9,
  aa_compromise = 10,
};
// RFC 5280 names: "keyCompromise", "cACompromise", ...
std::string revocation_reason_name(RevocationReason r);
RevocationReason revocation_reason_from_name(std::string_view name);  // Error(usage) otherwise

struct Revoked {
  std::string serial_hex;  // as `openssl x509 -serial` prints it; ':' separators allowed
  RevocationReason reason = RevocationReason::unspecified;  // unspecified: no reasonCode entry
  // When it was revoked (seconds since the epoch): keep it so every later CRL says the same.
  // Absent: now.
  std::optional<std::int64_t> revoked_at;
};
// "SERIAL" or "SERIAL:reason" as --revoke takes it; Error(usage) when malformed.
Revoked revocation_from_text(std::string_view text);

// A v2 CRL issued by `issuer_certificate` (PEM or DER, whose key is the signer's): thisUpdate
// now, nextUpdate now + next_update_days (1..36525), cRLNumber `crl_number` (>= 0, the caller
// keeps it monotonic), authorityKeyIdentifier. Refuses (general) an issuer certificate of
// another key or whose keyUsage lacks cRLSign; (usage) a malformed or repeated serial.
Bytes crl(ByteView issuer_certificate, const std::vector<Revoked>& revoked, std::int64_t crl_number,
          int next_update_days, Signer& signer);

}  // namespace hsm::x509
