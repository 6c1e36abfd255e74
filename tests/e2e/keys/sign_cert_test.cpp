// sign cert / sign csr end to end, per algorithm: a self-signed root in the HSM issues an
// intermediate from an `openssl req` CSR and one from a `sign csr` CSR of another HSM key; stock
// openssl verifies the chain, the CSR, a CMS and a raw file signature; every signature is in
// the transcript.
#include <openssl/sha.h>

#include "core/bytes.h"
#include "e2e/keys/sign_fixture.h"

namespace hsm::test {
namespace {

std::string sha256_hex(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return to_hex(ByteView(d, sizeof d));
}

class SignChain : public SignTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(SignChain, RootIssuesIntermediatesThatOpensslVerifies) {
  const std::string algo = GetParam();
  generate("root", algo);
  const RunResult root = self_signed("root", "CN=Root " + algo + ",O=Example,C=DE", "root.pem",
                                     "3650", {"--json"});
  ASSERT_EQ(root.code, 0) << root.err;
  expect_openssl_ok({"verify", "-CAfile", path("root.pem"), path("root.pem")});
  // The certificate certifies the key the keystore holds.
  const RunResult pub = openssl({"x509", "-noout", "-pubkey", "-in", path("root.pem")});
  EXPECT_EQ(pub.out, hsmctl({"key", "export-public", "root"}).out);
  EXPECT_EQ(root.json()["serial"].get<std::string>(), serial_of("root.pem"));
  // 20 random bytes, top bit cleared (a leading zero byte, 1 time in 128, is not encoded).
  EXPECT_GE(root.json()["serial"].get<std::string>().size(), 38u);

  // An intermediate from a CSR made by stock openssl.
  openssl_csr("/CN=Intermediate A/O=Example", "a.csr");
  const RunResult a = issue("root", "root.pem", "a.csr", "a.pem", "365", {"--json"});
  ASSERT_EQ(a.code, 0) << a.err;
  expect_openssl_ok({"verify", "-CAfile", path("root.pem"), path("a.pem")});
  EXPECT_EQ(a.json()["issuer"], "CN=Root " + algo + ",O=Example,C=DE");

  // An intermediate for another HSM key, from its CSR made by `sign csr`.
  generate("int", algo);
  const RunResult b_csr = csr("int", "CN=Intermediate B,O=Example", "b.csr");
  ASSERT_EQ(b_csr.code, 0) << b_csr.err;
  expect_openssl_ok({"req", "-verify", "-noout", "-in", path("b.csr")});
  ASSERT_EQ(issue("root", "root.pem", "b.csr", "b.pem", "365", {"--path-len", "0"}).code, 0);
  expect_openssl_ok({"verify", "-CAfile", path("root.pem"), path("b.pem")});
  const RunResult b_text = openssl({"x509", "-noout", "-text", "-in", path("b.pem")});
  EXPECT_NE(b_text.out.find("CA:TRUE, pathlen:0"), std::string::npos) << b_text.out;

  // The intermediate's HSM key issues a code-signing certificate and signs a file with it.
  generate("code", "ec-p256", "code");
  ASSERT_EQ(csr("code", "CN=Release signing", "code.csr").code, 0);
  ASSERT_EQ(issue("int", "b.pem", "code.csr", "code.pem", "30", {"--profile", "code"}).code, 0);
  expect_openssl_ok({"verify", "-CAfile", path("root.pem"), "-untrusted", path("b.pem"),
                     "-purpose", "any", path("code.pem")});
  const auto payload = write_file("payload.bin", "release " + algo + "\n");
  ASSERT_EQ(hsmctl({"sign", "file", "--key", "code", "--in", payload.string(), "--out",
                    path("payload.p7s"), "--format", "cms", "--cert", path("code.pem")}).code, 0);
  const std::string chain = write_file("chain.pem", read_file(path("root.pem")) +
                                                        read_file(path("b.pem"))).string();
  // OpenSSL 3.0 has no code-signing purpose; its default (S/MIME signing) refuses codeSigning.
  expect_openssl_ok({"cms", "-verify", "-binary", "-inform", "DER", "-in", path("payload.p7s"),
                     "-content", payload.string(), "-CAfile", chain, "-purpose", "any", "-out",
                     "/dev/null"});
  // And a raw signature of the same file by the root key, for openssl dgst.
  ASSERT_EQ(hsmctl({"sign", "file", "--key", "root", "--in", payload.string(), "--out",
                    path("payload.sig")}).code, 0);
  const std::string pem = write_file("root.pub", pub.out).string();
  std::vector<std::string> dgst{"dgst", algo == "ec-p384" ? "-sha384" : "-sha256", "-verify", pem,
                                "-signature", path("payload.sig")};
  if (algo.rfind("rsa", 0) == 0)
    dgst.insert(dgst.begin() + 2, {"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"});
  dgst.push_back(payload.string());
  expect_openssl_ok(dgst);

  // Every certificate is a transcript event naming its serial and the digest of the file.
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"serial\":\"" + serial_of("a.pem") + "\""), std::string::npos);
  EXPECT_NE(t.find("\"output_sha256\":\"" + sha256_hex(read_file(path("a.pem"))) + "\""),
            std::string::npos);
  EXPECT_NE(t.find("\"tbs_sha256\":\"" + a.json()["tbs_sha256"].get<std::string>() + "\""),
            std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SignChain,
                         ::testing::Values("ec-p256", "ec-p384", "rsa-3072", "rsa-4096"),
                         algorithm_test_name);

TEST_F(SignTest, ProfilesSetTheExtensionsOpensslReports) {
  generate("root", "ec-p256");
  ASSERT_EQ(self_signed("root", "CN=Root", "root.pem").code, 0);
  openssl_csr("/CN=www.example.org", "leaf.csr");
  ASSERT_EQ(issue("root", "root.pem", "leaf.csr", "leaf.pem", "90", {"--profile", "leaf"}).code, 0);
  const RunResult text = openssl({"x509", "-noout", "-text", "-in", path("leaf.pem")});
  EXPECT_NE(text.out.find("CA:FALSE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Digital Signature"), std::string::npos);
  EXPECT_NE(text.out.find("Authority Key Identifier"), std::string::npos);
  expect_openssl_ok({"verify", "-CAfile", path("root.pem"), path("leaf.pem")});
}

TEST_F(SignTest, QuorumKeySignsACertificateWithTwoSharesAndRefusesOne) {
  const std::string two = share_file("two", {"a", "c"});
  ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--purpose", "ca", "--shares-file",
                    two}).code, 0);
  const auto before = hsmctl({"token", "objects", "--json"}).json();
  expect_failure(self_signed("q", "CN=Quorum Root", "q1.pem", "3650",
                             {"--shares-file", share_file("one", {"b"})}),
                 5, "1 more needed");
  EXPECT_FALSE(std::filesystem::exists(path("q1.pem")));
  ASSERT_EQ(self_signed("q", "CN=Quorum Root", "q.pem", "3650", {"--shares-file", two}).code, 0);
  expect_openssl_ok({"verify", "-CAfile", path("q.pem"), path("q.pem")});
  openssl_csr("/CN=Under quorum", "u.csr");
  expect_failure(issue("q", "q.pem", "u.csr", "u.pem"), 2, "no terminal");
  ASSERT_EQ(issue("q", "q.pem", "u.csr", "u.pem", "365", {"--shares-file", two}).code, 0);
  expect_openssl_ok({"verify", "-CAfile", path("q.pem"), path("u.pem")});
  // Nothing of the quorum key stays on the token.
  const auto after = hsmctl({"token", "objects", "--json"}).json();
  EXPECT_EQ(after["objects"].size(), before["objects"].size());
}

TEST_F(SignTest, QuorumMustBeTheMasterThreshold) {
  const std::string three = share_file("three", {"a", "b", "c"});
  for (const std::string m : {"1", "3"})
    expect_failure(hsmctl({"key", "generate", "q" + m, "--quorum", m, "--shares-file", three}), 2,
                   "must equal the master share set's threshold (2)");
  EXPECT_EQ(hsmctl({"key", "generate", "q2", "--quorum", "2", "--shares-file", three}).code, 0);
}

}  // namespace
}  // namespace hsm::test
