// The token behind core/x509's Signer: an opened signing key (a token key, or a quorum key's
// session copy) signs the to-be-signed bytes core/x509 built; OpenSSL never holds the key.
// Keeps the digest of what it signed for the transcript; never keeps the bytes themselves.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "ceremonies/keys/signing_keys.h"
#include "core/x509/signer.h"

namespace hsm {

class TokenCertSigner : public x509::Signer {
 public:
  explicit TokenCertSigner(OpenSigningKey& key);
  x509::KeyAlgorithm algorithm() const override { return algorithm_; }
  Bytes public_key() const override { return key_.record().public_key; }
  Bytes sign(ByteView to_be_signed) override;
  // Hex SHA-256 of the last bytes signed ("" before the first signature).
  const std::string& signed_sha256() const { return signed_sha256_; }

 private:
  OpenSigningKey& key_;
  x509::KeyAlgorithm algorithm_;
  std::string signed_sha256_;
};

// Checks shared by the signing ceremonies' validate(): an input that must be a regular file
// (Error(not_found) naming `what`) and an output that must not exist yet (Error(not_found),
// "already exists": hsmctl never overwrites an output).
void require_input_file(const std::filesystem::path& path, const std::string& what);
void require_new_output(const std::filesystem::path& path);

// Seconds since the epoch <-> RFC 3339 UTC text ("2026-11-23T12:00:00Z"), as the keystore and
// the transcript write times. Error(integrity) for text that is not such a time.
std::string rfc3339(std::int64_t seconds);
std::int64_t seconds_from_rfc3339(const std::string& text);

}  // namespace hsm
