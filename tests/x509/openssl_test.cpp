// What hsmctl signs, for each key algorithm, checked by the stock openssl command line: a root,
// an intermediate from a CSR, leaf and code certificates, a CSR, a CRL and a CMS signature.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/x509/certificate.h"
#include "core/x509/cms.h"
#include "core/x509/crl.h"
#include "core/x509/request.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

using testing::openssl;
using testing::ScratchDir;
using testing::SoftwareSigner;
using testing::terms;

class X509Openssl : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  // Root key (slot 0) and a second key of the same algorithm (slot 1) that gets an
  // intermediate CA certificate and a code-signing certificate from the root.
  SoftwareSigner root_key{GetParam(), 0};
  SoftwareSigner second_key{GetParam(), 1};
  ScratchDir dir;
  Bytes root =
      self_signed_certificate("CN=Example Root,O=Example,C=DE", terms(Profile::ca, 3650), root_key);
  std::string root_pem = dir.pem("root.pem", PemKind::certificate, root);
};

void expect_ok(const hsm::test::RunResult& r) { EXPECT_EQ(r.code, 0) << r.out << r.err; }

TEST_P(X509Openssl, RootIntermediateAndLeafVerify) {
  const Bytes csr = certificate_request("CN=Example Intermediate,O=Example,C=DE", second_key);
  const Bytes intermediate = issue_certificate(csr, root, terms(Profile::ca, 1000, 0), root_key);
  const std::string int_pem = dir.pem("int.pem", PemKind::certificate, intermediate);

  SoftwareSigner leaf_key(KeyAlgorithm::ec_p256, 9);
  const Bytes leaf_csr = certificate_request("CN=leaf.example", leaf_key);
  const Bytes leaf = issue_certificate(as_bytes(to_pem(PemKind::certificate_request, leaf_csr)),
                                       as_bytes(to_pem(PemKind::certificate, intermediate)),
                                       terms(Profile::leaf, 90), second_key);
  const std::string leaf_pem = dir.pem("leaf.pem", PemKind::certificate, leaf);

  expect_ok(openssl({"verify", "-CAfile", root_pem, root_pem}));
  expect_ok(openssl({"verify", "-CAfile", root_pem, int_pem}));
  expect_ok(openssl({"verify", "-CAfile", root_pem, "-untrusted", int_pem, leaf_pem}));
}

TEST_P(X509Openssl, CsrVerifies) {
  const Bytes csr = certificate_request("CN=Example Intermediate,O=Example,C=DE", second_key);
  const auto r = openssl(
      {"req", "-verify", "-noout", "-in", dir.pem("req.pem", PemKind::certificate_request, csr)});
  expect_ok(r);
  EXPECT_NE((r.out + r.err).find("verify OK"), std::string::npos) << r.out << r.err;
  const auto subject = openssl({"req", "-noout", "-subject", "-in", dir.write("req.der", csr),
                                "-inform", "DER", "-nameopt", "RFC2253"});
  EXPECT_EQ(subject.out, "subject=CN=Example Intermediate,O=Example,C=DE\n");
}

TEST_P(X509Openssl, CrlVerifies) {
  const Bytes list = crl(root,
                         {{"01AB", RevocationReason::key_compromise, std::nullopt},
                          {"7F:00:00:01", RevocationReason::unspecified, std::nullopt}},
                         42, 7, root_key);
  const std::string crl_pem = dir.pem("crl.pem", PemKind::crl, list);
  const auto r = openssl({"crl", "-verify", "-noout", "-CAfile", root_pem, "-in", crl_pem});
  expect_ok(r);
  EXPECT_NE((r.out + r.err).find("verify OK"), std::string::npos) << r.out << r.err;
  const auto text = openssl({"crl", "-noout", "-text", "-in", crl_pem});
  EXPECT_NE(text.out.find("Version 2"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 CRL Number: \n                42"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("Serial Number: 01AB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Key Compromise"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Serial Number: 7F000001"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Authority Key Identifier"), std::string::npos) << text.out;
}

// CMS for every algorithm but Ed25519, which cms.h refuses (see X509Refusals).
class X509OpensslCms : public X509Openssl {};

TEST_P(X509OpensslCms, SignatureVerifies) {
  const Bytes csr = certificate_request("CN=Example Signer,O=Example,C=DE", second_key);
  const Bytes content = to_bytes("release 1.0\n\x00\xff binary bytes\r\n");
  const std::string content_file = dir.write("release.bin", content);
  for (Profile profile : {Profile::leaf, Profile::code}) {
    const Bytes cert = issue_certificate(csr, root, terms(profile, 30), root_key);
    const Bytes signature = cms_detached_signature(content, cert, second_key);
    const std::string sig = dir.write("release.p7s", signature);
    std::vector<std::string> verify{"cms",     "-verify", "-binary",  "-content", content_file,
                                    "-inform", "DER",     "-in",      sig,        "-CAfile",
                                    root_pem,  "-out",    "/dev/null"};
    // OpenSSL 3.0 has no code-signing purpose; the default (S/MIME signing) refuses codeSigning.
    if (profile == Profile::code) verify.insert(verify.end(), {"-purpose", "any"});
    const auto r = openssl(verify);
    expect_ok(r);
    EXPECT_NE(r.err.find("Verification successful"), std::string::npos) << r.err;

    dir.write("tampered.bin", std::string("release 1.1\n"));
    verify[4] = (std::filesystem::path(content_file).parent_path() / "tampered.bin").string();
    EXPECT_NE(openssl(verify).code, 0) << "tampered content accepted";
  }
}

TEST_P(X509OpensslCms, SignatureCarriesTheChain) {
  const Bytes intermediate =
      issue_certificate(certificate_request("CN=Example Intermediate", second_key), root,
                        terms(Profile::ca, 1000, 0), root_key);
  SoftwareSigner file_key(KeyAlgorithm::ec_p256, 9);
  const Bytes leaf = issue_certificate(certificate_request("CN=Release Signing", file_key),
                                       intermediate, terms(Profile::leaf, 30), second_key);
  const Bytes content = to_bytes("payload");
  const Bytes signature = cms_detached_signature(content, leaf, file_key, {intermediate});
  expect_ok(openssl({"cms", "-verify", "-binary", "-content", dir.write("payload", content),
                     "-inform", "DER", "-in", dir.write("payload.p7s", signature), "-CAfile",
                     root_pem, "-out", "/dev/null"}));
}

std::string algorithm_test_name(const ::testing::TestParamInfo<KeyAlgorithm>& p) {
  std::string name = key_algorithm_name(p.param);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(X509, X509Openssl, ::testing::ValuesIn(testing::kAllAlgorithms),
                         algorithm_test_name);
INSTANTIATE_TEST_SUITE_P(X509, X509OpensslCms,
                         ::testing::Values(KeyAlgorithm::ec_p256, KeyAlgorithm::ec_p384,
                                           KeyAlgorithm::rsa_3072, KeyAlgorithm::rsa_4096),
                         algorithm_test_name);

}  // namespace
}  // namespace hsm::x509
