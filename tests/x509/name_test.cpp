// Subject names: RFC 4514 order and escapes in, the same text out; PEM in and out.
#include "core/x509/name.h"

#include <gtest/gtest.h>

#include "core/x509/pem.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

TEST(X509Name, TextRoundTripsInRfc4514Order) {
  for (const char* text : {"CN=Example Root,O=Example,C=DE", "CN=a", "DC=example,DC=com",
                           "serialNumber=42,CN=Device,OU=Ops,L=Berlin,ST=Berlin,C=DE"})
    EXPECT_EQ(name_text(subject_name(text)), text);
}

TEST(X509Name, MostSpecificComesLastInTheDer) {
  // RFC 4514 text lists the last RDN first: C is the first RDN in the DER.
  const Bytes der = subject_name("CN=x,C=DE");
  const std::string s(der.begin(), der.end());
  EXPECT_LT(s.find("DE"), s.find('x'));
}

TEST(X509Name, SpacesAroundPartsAreTrimmedAndEscapesKept) {
  EXPECT_EQ(name_text(subject_name(" CN = Example Root , O=Example\\, Inc. , c=DE")),
            "CN=Example Root,O=Example\\, Inc.,C=DE");
  EXPECT_EQ(name_text(subject_name("CN=a\\+b\\=c")), "CN=a\\+b=c");  // "=" needs no escape
}

TEST(X509Name, Utf8IsKept) {
  EXPECT_EQ(name_text(subject_name("CN=Zürich Wurzel,C=CH")), "CN=Zürich Wurzel,C=CH");
}

TEST(X509Pem, RoundTripsAndTakesTheFirstBlockOfItsKind) {
  const Bytes der = subject_name("CN=not really a certificate");
  const std::string pem = to_pem(PemKind::certificate, der);
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u) << pem;
  EXPECT_EQ(from_pem_or_der(as_bytes(pem), PemKind::certificate), der);
  const std::string two = to_pem(PemKind::crl, Bytes{1, 2, 3}) + pem;
  EXPECT_EQ(from_pem_or_der(as_bytes(two), PemKind::certificate), der);
  EXPECT_EQ(from_pem_or_der(der, PemKind::certificate), der);  // DER passes through
}

TEST(X509Pem, AcceptsTheOldCsrLabelAndRefusesOtherKinds) {
  const std::string old_label =
      "-----BEGIN NEW CERTIFICATE REQUEST-----\nAQID\n-----END NEW CERTIFICATE REQUEST-----\n";
  EXPECT_EQ(from_pem_or_der(as_bytes(old_label), PemKind::certificate_request), (Bytes{1, 2, 3}));
  const auto e = testing::error_of(
      [&] { from_pem_or_der(as_bytes(to_pem(PemKind::crl, Bytes{1})), PemKind::certificate); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->category(), Category::usage);
  EXPECT_STREQ(e->what(), "expected PEM CERTIFICATE but found X509 CRL");
}

}  // namespace
}  // namespace hsm::x509
