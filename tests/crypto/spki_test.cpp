// ec_spki frames P-256 and P-384 public keys itself (a cached group checks the point): its DER
// must equal OpenSSL's own i2d_PUBKEY for freshly generated keys, and a point off the curve or
// of the wrong size is refused.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm::crypto {
namespace {

struct Curve {
  const char* name;
  Bytes params_der;
};

Bytes encoded_point(EVP_PKEY* k) {
  Bytes point(200);
  std::size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                            point.size(), &len), 1);
  point.resize(len);
  return point;
}

Bytes openssl_spki(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k, &der);
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

TEST(EcSpki, MatchesOpensslForGeneratedKeysAndRefusesBadPoints) {
  const std::vector<Curve> curves = {
      {"P-256", {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
      {"P-384", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}},
  };
  for (const auto& c : curves) {
    SCOPED_TRACE(c.name);
    for (int i = 0; i < 8; ++i) {
      EVP_PKEY* k = EVP_EC_gen(c.name);
      ASSERT_NE(k, nullptr);
      const Bytes point = encoded_point(k);
      EXPECT_EQ(ec_spki(c.params_der, point), openssl_spki(k));
      // CKA_EC_POINT as a DER OCTET STRING gives the same.
      Bytes wrapped{0x04, static_cast<std::uint8_t>(point.size())};
      wrapped.insert(wrapped.end(), point.begin(), point.end());
      EXPECT_EQ(ec_spki(c.params_der, wrapped), openssl_spki(k));

      Bytes off = point;
      off.back() ^= 0x01;  // y no longer matches x
      EXPECT_THROW(ec_spki(c.params_der, off), Error);
      EXPECT_THROW(ec_spki(c.params_der, Bytes(point.begin(), point.end() - 1)), Error);
      EVP_PKEY_free(k);
    }
  }
}

// A bare point may begin like a DER OCTET STRING header: 04 || X where X[0] is the length byte
// the wrapped form would have (0x3F for P-256, 0x5F for P-384). It must still read as bare.
TEST(EcSpki, BarePointsThatLookWrappedAreReadAsBare) {
  const std::vector<std::pair<Curve, std::uint8_t>> curves = {
      {{"P-256", {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}, 0x3F},
      {{"P-384", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}}, 0x5F},
  };
  for (const auto& [c, trap] : curves) {
    SCOPED_TRACE(c.name);
    int found = 0;
    for (int tries = 0; tries < 20000 && found < 2; ++tries) {
      EVP_PKEY* k = EVP_EC_gen(c.name);
      ASSERT_NE(k, nullptr);
      const Bytes point = encoded_point(k);
      if (point[1] == trap) {
        ++found;
        EXPECT_EQ(ec_spki(c.params_der, point), openssl_spki(k));
        Bytes wrapped{0x04, static_cast<std::uint8_t>(point.size())};
        wrapped.insert(wrapped.end(), point.begin(), point.end());
        EXPECT_EQ(ec_spki(c.params_der, wrapped), openssl_spki(k));
      }
      EVP_PKEY_free(k);
    }
    EXPECT_EQ(found, 2) << "no key with X starting 0x" << std::hex << int{trap} << " in 20000";
  }
}

// load_spki builds P-256 keys from the point (not through d2i_PUBKEY): the key it makes must be
// the same key (same DER back, equal to the generated key, another's is not),
// and a header with a point off the curve is refused, as d2i_PUBKEY refuses it.
TEST(LoadSpki, P256FromThePointIsTheSameKeyAndRefusesPointsOffTheCurve) {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  ASSERT_NE(k, nullptr);
  const Bytes der = openssl_spki(k);
  ASSERT_EQ(der.size(), 91u);
  const Pkey loaded = load_spki(der);
  EXPECT_EQ(openssl_spki(loaded.get()), der);
  EXPECT_EQ(EVP_PKEY_eq(loaded.get(), k), 1);
  EVP_PKEY* other = EVP_EC_gen("P-256");
  EXPECT_NE(EVP_PKEY_eq(load_spki(openssl_spki(other)).get(), k), 1);
  Bytes off = der;
  off.back() ^= 0x01;  // y no longer matches x
  EXPECT_THROW(load_spki(off), Error);
  EVP_PKEY_free(other);
  EVP_PKEY_free(k);
}

}  // namespace
}  // namespace hsm::crypto
