// Internal to core/x509: the extensions each certificate profile carries, in one place so the
// profiles can be read and reviewed together. Never adds an extension a profile does not name.
#pragma once

#include <openssl/x509.h>

#include <optional>

#include "core/bytes.h"
#include "core/x509/certificate.h"

namespace hsm::x509 {

// basicConstraints, keyUsage, extKeyUsage (code), subjectKeyIdentifier of `cert`'s key and
// authorityKeyIdentifier `authority_key_id`, as certificate.h describes the profiles.
void add_profile_extensions(X509* cert, Profile profile, std::optional<int> path_length,
                            ByteView authority_key_id);

}  // namespace hsm::x509
