// The signature AlgorithmIdentifiers hsmctl pins are the ones OpenSSL writes itself when it
// signs with the same kind of key (RSA: PSS, SHA-256, MGF1-SHA-256, salt 32).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/x509/certificate.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

Bytes algorithm_of(const X509* cert) {
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, cert);
  unsigned char* p = nullptr;
  const int n = i2d_X509_ALGOR(outer, &p);
  Bytes out(p, p + n);
  OPENSSL_free(p);
  EXPECT_EQ(X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(cert)), 0) << "inner and outer differ";
  return out;
}

// What OpenSSL writes when it holds the private key and signs a certificate with it.
Bytes openssl_own_algorithm(KeyAlgorithm a) {
  EVP_PKEY* key = testing::software_key(a);
  X509* cert = X509_new();
  X509_set_pubkey(cert, key);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 60);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = a == KeyAlgorithm::ec_p384   ? EVP_sha384()
                     : a == KeyAlgorithm::ed25519 ? nullptr
                                                  : EVP_sha256();
  EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, md, nullptr, key), 1);
  if (a == KeyAlgorithm::rsa_3072 || a == KeyAlgorithm::rsa_4096) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
  }
  EXPECT_GT(X509_sign_ctx(cert, ctx), 0);
  Bytes out = algorithm_of(cert);
  EVP_MD_CTX_free(ctx);
  X509_free(cert);
  return out;
}

TEST(X509Algorithm, IdentifiersMatchWhatOpensslWritesForTheSameKey) {
  for (KeyAlgorithm a : testing::kAllAlgorithms) {
    testing::SoftwareSigner signer(a);
    const Bytes ours = self_signed_certificate("CN=Algorithm", testing::terms(Profile::ca), signer);
    const unsigned char* p = ours.data();
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(ours.size()));
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(to_hex(algorithm_of(cert)), to_hex(openssl_own_algorithm(a)))
        << key_algorithm_name(a);
    X509_free(cert);
  }
}

TEST(X509Algorithm, NamesRoundTripAndUnknownNamesAreUsageErrors) {
  for (KeyAlgorithm a : testing::kAllAlgorithms)
    EXPECT_EQ(key_algorithm_from_name(key_algorithm_name(a)), a);
  const auto e = testing::error_of([] { key_algorithm_from_name("ec-p521"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->category(), Category::usage);
  EXPECT_NE(std::string(e->what()).find("ec-p256"), std::string::npos) << e->what();
}

TEST(X509Algorithm, SignerSeesExactlyTheBytesThatEndUpSigned) {
  struct Recorder : testing::SoftwareSigner {
    using SoftwareSigner::SoftwareSigner;
    Bytes sign(ByteView tbs) override {
      seen.assign(tbs.begin(), tbs.end());
      return SoftwareSigner::sign(tbs);
    }
    Bytes seen;
  } signer(KeyAlgorithm::ec_p256);
  const Bytes cert = self_signed_certificate("CN=Exact", testing::terms(Profile::ca), signer);
  EXPECT_EQ(signer.signatures, 1);
  ASSERT_GT(cert.size(), signer.seen.size());
  // Certificate ::= SEQUENCE { tbsCertificate, ... }: the TBS follows the 4-byte header.
  EXPECT_TRUE(std::equal(signer.seen.begin(), signer.seen.end(), cert.begin() + 4));
}

}  // namespace
}  // namespace hsm::x509
