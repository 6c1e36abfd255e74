// The digests: FIPS 180-2 test vectors for SHA-256 and SHA-384, and the fingerprint format.
#include <gtest/gtest.h>

#include <string>

#include "core/crypto/public_key.h"

namespace hsm::crypto {
namespace {

ByteView text(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

TEST(Digest, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(to_hex(sha256(text(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(text("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Digest, Sha384MatchesFips180Vector) {
  EXPECT_EQ(to_hex(sha384(text("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
}

TEST(Digest, FingerprintIsLowercaseHexSha256OfTheDer) {
  const std::string der = "not really DER, any bytes";
  EXPECT_EQ(fingerprint(text(der)), to_hex(sha256(text(der))));
  EXPECT_EQ(fingerprint(text(der)).size(), 64u);
}

}  // namespace
}  // namespace hsm::crypto
