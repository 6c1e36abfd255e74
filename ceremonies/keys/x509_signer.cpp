// The x509::Signer over an OpenSigningKey, and the file checks the signing ceremonies share.
#include "ceremonies/keys/x509_signer.h"

#include <fmt/format.h>

#include <ctime>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm {

TokenCertSigner::TokenCertSigner(OpenSigningKey& key)
    : key_(key), algorithm_(x509::key_algorithm_from_name(key.record().algorithm)) {}

Bytes TokenCertSigner::sign(ByteView to_be_signed) {
  // OpenSigningKey::sign gives DER ECDSA-Sig-Value for ECDSA and the raw signature for RSA-PSS
  // and Ed25519: the encodings an X.509 or CMS structure carries.
  Bytes signature = key_.sign(to_be_signed);
  signed_sha256_ = to_hex(crypto::sha256(to_be_signed));
  return signature;
}

void require_input_file(const std::filesystem::path& path, const std::string& what) {
  if (path.empty()) fail(Category::usage, fmt::format("the {} is missing", what));
  if (!std::filesystem::is_regular_file(path))
    fail(Category::not_found, fmt::format("{} '{}' does not exist", what, path.string()));
}

void require_new_output(const std::filesystem::path& path) {
  if (path.empty()) fail(Category::usage, "--out is missing");
  if (std::filesystem::exists(std::filesystem::symlink_status(path)))
    fail(Category::not_found, fmt::format("'{}' already exists; hsmctl never overwrites an output "
                                          "file", path.string()));
}

std::string rfc3339(std::int64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::int64_t seconds_from_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0')
    fail(Category::integrity, fmt::format("'{}' in the keystore is not an RFC 3339 UTC time", text));
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace hsm
