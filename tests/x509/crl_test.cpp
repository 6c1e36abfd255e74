// CRL details the openssl tests do not pin: reason names, --revoke text, kept revocation
// dates, and an empty CRL.
#include "core/x509/crl.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

TEST(X509Crl, ReasonNamesAreRfc5280s) {
  const std::pair<RevocationReason, const char*> names[] = {
      {RevocationReason::unspecified, "unspecified"},
      {RevocationReason::key_compromise, "keyCompromise"},
      {RevocationReason::ca_compromise, "cACompromise"},
      {RevocationReason::affiliation_changed, "affiliationChanged"},
      {RevocationReason::superseded, "superseded"},
      {RevocationReason::cessation_of_operation, "cessationOfOperation"},
      {RevocationReason::certificate_hold, "certificateHold"},
      {RevocationReason::remove_from_crl, "removeFromCRL"},
      {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
      {RevocationReason::aa_compromise, "aACompromise"}};
  for (const auto& [reason, name] : names) {
    EXPECT_EQ(revocation_reason_name(reason), name);
    EXPECT_EQ(revocation_reason_from_name(name), reason);
  }
  EXPECT_EQ(static_cast<int>(RevocationReason::remove_from_crl), 8);
}

TEST(X509Crl, RevokeTextTakesASerialAndAnOptionalReason) {
  const Revoked plain = revocation_from_text("00:3f:A2");
  EXPECT_EQ(plain.serial_hex, "3FA2");
  EXPECT_EQ(plain.reason, RevocationReason::unspecified);
  const Revoked reasoned = revocation_from_text("3f:a2:keyCompromise");
  EXPECT_EQ(reasoned.serial_hex, "3FA2");
  EXPECT_EQ(reasoned.reason, RevocationReason::key_compromise);
}

TEST(X509Crl, KeepsTheGivenRevocationDateAndAnEmptyListVerifies) {
  testing::SoftwareSigner key(KeyAlgorithm::ec_p256);
  const Bytes root = self_signed_certificate("CN=CRL Root", testing::terms(Profile::ca), key);
  const Bytes list = crl(root, {{"1234", RevocationReason::superseded, 1700000000}}, 7, 30, key);
  const unsigned char* p = list.data();
  X509_CRL* parsed = d2i_X509_CRL(nullptr, &p, static_cast<long>(list.size()));
  ASSERT_NE(parsed, nullptr);
  ASSERT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(parsed)), 1);
  const X509_REVOKED* entry = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(parsed), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(entry), 1700000000), 0);
  X509_CRL_free(parsed);

  testing::ScratchDir dir;
  const auto r = testing::openssl({"crl", "-verify", "-noout", "-CAfile",
                                   dir.pem("root.pem", PemKind::certificate, root), "-in",
                                   dir.pem("empty.pem", PemKind::crl, crl(root, {}, 0, 1, key))});
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace hsm::x509
