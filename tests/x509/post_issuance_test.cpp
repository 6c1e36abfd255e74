// The post-issuance check works: a Signer whose signatures do not match what it was given
// (a token with the wrong key, a fault) gets Error(integrity) for every artefact, and nothing
// is returned.
#include <gtest/gtest.h>

#include "core/x509/certificate.h"
#include "core/x509/cms.h"
#include "core/x509/crl.h"
#include "core/x509/request.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

// Signs something other than the bytes it is asked to sign: a well-formed, wrong signature.
class WrongSigner : public testing::SoftwareSigner {
 public:
  using SoftwareSigner::SoftwareSigner;
  bool lie = true;
  Bytes sign(ByteView tbs) override {
    if (!lie) return SoftwareSigner::sign(tbs);
    Bytes other(tbs.begin(), tbs.end());
    other.back() ^= 0x01;
    return SoftwareSigner::sign(other);
  }
};

void expect_integrity_error(const std::function<void()>& call, const std::string& what) {
  const auto e = testing::error_of(call);
  ASSERT_TRUE(e) << what;
  EXPECT_EQ(e->category(), Category::integrity) << what << ": " << e->what();
  EXPECT_NE(std::string(e->what()).find("does not verify with the signing key's public key"),
            std::string::npos)
      << e->what();
}

TEST(X509PostIssuanceCheck, WrongSignaturesAreCaughtForEveryArtefactAndAlgorithm) {
  for (KeyAlgorithm a : testing::kAllAlgorithms) {
    const std::string name = key_algorithm_name(a);
    WrongSigner key(a);
    key.lie = false;
    const Bytes root = self_signed_certificate("CN=Honest Root", testing::terms(Profile::ca), key);
    testing::SoftwareSigner subject_key(a, 1);
    const Bytes csr = certificate_request("CN=Subject", subject_key);
    key.lie = true;
    expect_integrity_error(
        [&] { self_signed_certificate("CN=Root", testing::terms(Profile::ca), key); },
        name + " self-signed");
    expect_integrity_error(
        [&] { issue_certificate(csr, root, testing::terms(Profile::leaf, 30), key); },
        name + " issued");
    expect_integrity_error([&] { certificate_request("CN=Request", key); }, name + " CSR");
    expect_integrity_error([&] { crl(root, {{"01", {}, {}}}, 1, 7, key); }, name + " CRL");
    if (a != KeyAlgorithm::ed25519)
      expect_integrity_error([&] { cms_detached_signature(to_bytes("file"), root, key); },
                             name + " CMS");
  }
}

TEST(X509PostIssuanceCheck, GarbageSignaturesAreIntegrityErrorsToo) {
  struct Garbage : testing::SoftwareSigner {
    using SoftwareSigner::SoftwareSigner;
    Bytes sign(ByteView) override { return Bytes(64, 0x42); }
  } key(KeyAlgorithm::ec_p256);
  expect_integrity_error(
      [&] { self_signed_certificate("CN=Root", testing::terms(Profile::ca), key); }, "garbage");
}

}  // namespace
}  // namespace hsm::x509
