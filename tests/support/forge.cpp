// Test-side ECDSA P-256 signing with OpenSSL (not with the token).
#include "support/forge.h"

#include <openssl/ec.h>
#include <openssl/evp.h>

#include <sstream>
#include <stdexcept>

#include "core/crypto/public_key.h"
#include "core/transcript/canonical_json.h"

namespace hsm::test {

ForgedKey::ForgedKey() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (k == nullptr) throw std::runtime_error("EVP_EC_gen failed");
  key_ = k;
  spki_ = crypto::spki_der(k);
}

ForgedKey::~ForgedKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::string ForgedKey::pem() const { return crypto::spki_pem(spki_); }

void ForgedKey::seal(transcript::Entry& e) const {
  e.hash = transcript::body_hash(e);
  e.sig = to_base64(sign(from_hex(e.hash)));
}

Bytes ForgedKey::sign(ByteView msg) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(key_));
  EVP_DigestSign(ctx, nullptr, &len, msg.data(), msg.size());
  Bytes der(len);
  EVP_DigestSign(ctx, der.data(), &len, msg.data(), msg.size());
  der.resize(len);
  EVP_MD_CTX_free(ctx);
  return crypto::ecdsa_der_to_raw(der, 32);
}

std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> out;
  std::istringstream in(content);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

transcript::Entry parse_line(const std::string& line) {
  return transcript::entry_from_json(transcript::parse_canonical_line(line));
}

}  // namespace hsm::test
