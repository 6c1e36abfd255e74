// The certificate profiles as `openssl x509 -text` reads them, key identifiers, serial numbers
// and validity.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/x509/certificate.h"
#include "core/x509/request.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

class X509Profiles : public ::testing::Test {
 protected:
  testing::SoftwareSigner root_key{KeyAlgorithm::ec_p256, 0};
  testing::SoftwareSigner subject_key{KeyAlgorithm::ec_p256, 1};
  testing::ScratchDir dir;
  Bytes root =
      self_signed_certificate("CN=Profiles Root", testing::terms(Profile::ca, 3650, 2), root_key);

  Bytes issue(Profile profile, std::optional<int> path_length = std::nullopt) {
    return issue_certificate(certificate_request("CN=Subject,O=Example", subject_key), root,
                             testing::terms(profile, 30, path_length), root_key);
  }
  std::string text(const Bytes& cert) {
    return testing::openssl(
               {"x509", "-noout", "-text", "-in", dir.pem("c.pem", PemKind::certificate, cert)})
        .out;
  }
};

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST_F(X509Profiles, CaHasCriticalBasicConstraintsWithPathLenAndCertAndCrlSigning) {
  const std::string t = text(issue(Profile::ca, 0));
  EXPECT_TRUE(has(t, "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"))
      << t;
  EXPECT_TRUE(has(t, "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"))
      << t;
  EXPECT_FALSE(has(t, "Extended Key Usage")) << t;
}

TEST_F(X509Profiles, CaWithoutPathLenHasNone) {
  const std::string t = text(issue(Profile::ca));
  EXPECT_TRUE(has(t, "CA:TRUE\n")) << t;
  EXPECT_FALSE(has(t, "pathlen")) << t;
}

TEST_F(X509Profiles, LeafIsNotACaAndSignsOnly) {
  const std::string t = text(issue(Profile::leaf));
  EXPECT_TRUE(has(t, "X509v3 Basic Constraints: critical\n                CA:FALSE")) << t;
  EXPECT_TRUE(has(t, "X509v3 Key Usage: critical\n                Digital Signature\n")) << t;
  EXPECT_FALSE(has(t, "Extended Key Usage")) << t;
}

TEST_F(X509Profiles, CodeAddsCodeSigningExtendedKeyUsage) {
  const std::string t = text(issue(Profile::code));
  EXPECT_TRUE(has(t, "CA:FALSE")) << t;
  EXPECT_TRUE(has(t, "X509v3 Extended Key Usage: \n                Code Signing\n")) << t;
}

TEST_F(X509Profiles, KeyIdentifiersAreSha1OfTheKeyAndChainToTheIssuer) {
  const Bytes issued = issue(Profile::leaf);
  const unsigned char* p = issued.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(issued.size()));
  p = root.data();
  X509* issuer = d2i_X509(nullptr, &p, static_cast<long>(root.size()));
  ASSERT_TRUE(cert && issuer);
  Bytes method1(20);
  unsigned int length = 0;
  X509_pubkey_digest(cert, EVP_sha1(), method1.data(), &length);  // SHA-1 of the key bits
  const auto bytes = [](const ASN1_OCTET_STRING* s) {
    return Bytes(ASN1_STRING_get0_data(s), ASN1_STRING_get0_data(s) + ASN1_STRING_length(s));
  };
  EXPECT_EQ(bytes(X509_get0_subject_key_id(cert)), method1);
  EXPECT_EQ(bytes(X509_get0_authority_key_id(cert)), bytes(X509_get0_subject_key_id(issuer)));
  EXPECT_EQ(bytes(X509_get0_authority_key_id(issuer)), bytes(X509_get0_subject_key_id(issuer)));
  X509_free(cert);
  X509_free(issuer);
}

TEST_F(X509Profiles, SerialIsTheGivenBytesMadePositive) {
  CertificateTerms t = testing::terms(Profile::leaf, 30);
  t.serial.assign(20, 0xff);
  const Bytes cert =
      issue_certificate(certificate_request("CN=Serial", subject_key), root, t, root_key);
  EXPECT_EQ(read_certificate(cert).serial_hex, "7F" + std::string(38, 'F'));
}

TEST_F(X509Profiles, ValidityRunsFromNowForTheGivenDays) {
  const std::int64_t before = std::time(nullptr);
  const CertificateFacts facts = read_certificate(issue(Profile::leaf));
  EXPECT_GE(facts.not_before, before);
  EXPECT_LE(facts.not_before, before + 5);
  EXPECT_EQ(facts.not_after - facts.not_before, 30 * 86400);
  EXPECT_EQ(facts.subject, "CN=Subject,O=Example");
  EXPECT_EQ(facts.issuer, "CN=Profiles Root");
  EXPECT_EQ(facts.public_key, subject_key.public_key());
}

TEST(X509ProfileNames, RoundTripAndUnknownNamesAreUsageErrors) {
  for (Profile p : {Profile::ca, Profile::leaf, Profile::code})
    EXPECT_EQ(profile_from_name(profile_name(p)), p);
  const auto e = testing::error_of([] { profile_from_name("server"); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->category(), Category::usage);
}

}  // namespace
}  // namespace hsm::x509
