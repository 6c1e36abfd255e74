// An attacker's (or a second implementation's) signing key for transcript tamper tests: builds
// entries with correct hashes and signs them with a P-256 key that the token never saw.
#pragma once

#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/transcript/appender.h"
#include "core/transcript/entry.h"

namespace hsm::test {

class ForgedKey {
 public:
  ForgedKey();
  ~ForgedKey();
  ForgedKey(const ForgedKey&) = delete;
  ForgedKey& operator=(const ForgedKey&) = delete;
  const Bytes& spki() const { return spki_; }
  std::string pem() const;
  // Fills hash and sig of `e` (prev and seq must be set).
  void seal(transcript::Entry& e) const;
  // The raw r||s ECDSA signature over SHA-256(`hash32`), as the token's transcript key makes it.
  Bytes sign(ByteView hash32) const;

 private:
  void* key_;  // EVP_PKEY*
  Bytes spki_;
};

// A ForgedKey behind the appender's Signer interface: a transcript written by the real appender
// without a token.
class ForgedSigner : public transcript::Signer {
 public:
  Bytes sign(ByteView hash32) override { return key_.sign(hash32); }
  const Bytes& public_key() const override { return key_.spki(); }
  const ForgedKey& key() const { return key_; }

 private:
  ForgedKey key_;
};

std::vector<std::string> split_lines(const std::string& content);
std::string join_lines(const std::vector<std::string>& lines);
transcript::Entry parse_line(const std::string& line);

}  // namespace hsm::test
