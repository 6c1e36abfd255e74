// sign crl end to end: CRLs that `openssl crl -verify` accepts, per algorithm; the CRL number
// only grows (kept in the keystore) and every CRL repeats the earlier revocations; and the
// failure contract of sign cert / csr / crl / file in one table.
#include "e2e/keys/sign_fixture.h"

namespace hsm::test {
namespace {

// "0x2" from `openssl crl -crlnumber` output.
std::string crl_number(const RunResult& text) {
  const auto at = text.out.find("crlNumber=");
  return at == std::string::npos ? "" : text.out.substr(at + 10, text.out.find('\n', at) - at - 10);
}

class SignCrl : public SignTest, public ::testing::WithParamInterface<std::string> {
 protected:
  RunResult crl_text(const std::string& file) {
    return openssl({"crl", "-noout", "-text", "-crlnumber", "-in", path(file)});
  }
};

TEST_P(SignCrl, CrlsVerifyNumbersGrowAndRevocationsStay) {
  generate("root", GetParam());
  ASSERT_EQ(self_signed("root", "CN=CRL Root", "root.pem").code, 0);
  openssl_csr("/CN=Revoked One", "one.csr");
  openssl_csr("/CN=Revoked Two", "two.csr");
  ASSERT_EQ(issue("root", "root.pem", "one.csr", "one.pem").code, 0);
  ASSERT_EQ(issue("root", "root.pem", "two.csr", "two.pem").code, 0);
  const std::string one = serial_of("one.pem"), two = serial_of("two.pem");

  const RunResult first = crl("root", "root.pem", "1.crl", {"--revoke", one + ":keyCompromise", "--json"});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.json()["crl_number"], 1);
  const RunResult v = openssl({"crl", "-verify", "-noout", "-CAfile", path("root.pem"), "-in",
                               path("1.crl")});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.err.find("verify OK"), std::string::npos) << v.err;
  const RunResult t1 = crl_text("1.crl");
  EXPECT_EQ(crl_number(t1), "0x01");
  EXPECT_NE(t1.out.find(one), std::string::npos);
  EXPECT_NE(t1.out.find("Key Compromise"), std::string::npos) << t1.out;
  // With the CRL, openssl now refuses the revoked certificate and still accepts the other.
  const std::string both = write_file("both.pem", read_file(path("root.pem")) +
                                                      read_file(path("1.crl"))).string();
  EXPECT_NE(openssl({"verify", "-crl_check", "-CAfile", both, path("one.pem")}).code, 0);
  expect_openssl_ok({"verify", "-crl_check", "-CAfile", both, path("two.pem")});

  ASSERT_EQ(crl("root", "root.pem", "2.crl", {"--revoke", two}).code, 0);
  const RunResult t2 = crl_text("2.crl");
  EXPECT_EQ(crl_number(t2), "0x02");
  EXPECT_NE(t2.out.find(one), std::string::npos) << "an earlier revocation was dropped";
  EXPECT_NE(t2.out.find(two), std::string::npos);
  expect_openssl_ok({"crl", "-verify", "-noout", "-CAfile", path("root.pem"), "-in", path("2.crl")});

  // A CRL with no new revocation still gets the next number.
  ASSERT_EQ(crl("root", "root.pem", "3.crl").code, 0);
  EXPECT_EQ(crl_number(crl_text("3.crl")), "0x03");
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("\"crl_number\":3"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SignCrl, ::testing::Values("ec-p256", "ec-p384", "rsa-3072"),
                         algorithm_test_name);

TEST_F(SignTest, BadInputGetsTheDocumentedExitCode) {
  generate("root", "ec-p256");
  generate("other", "ec-p256");
  ASSERT_EQ(self_signed("root", "CN=Root", "root.pem").code, 0);
  ASSERT_EQ(self_signed("other", "CN=Other", "other.pem").code, 0);
  ASSERT_EQ(self_signed("root", "CN=Short Root", "short.pem", "30").code, 0);
  openssl_csr("/CN=Good", "good.csr");
  // A CSR whose signature does not verify: the last byte of its signature flipped.
  ASSERT_EQ(openssl({"req", "-in", path("good.csr"), "-outform", "DER", "-out", path("good.der")}).code, 0);
  std::string der = read_file(path("good.der"));
  der.back() = static_cast<char>(der.back() ^ 0x01);
  write_file("bad.csr", der);
  const std::string q = share_file("two", {"a", "b"});
  ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--shares-file", q}).code, 0);
  const std::string one = share_file("one", {"c"});
  const std::string in = write_file("in.txt", "data\n").string();
  write_file("exists.pem", "");

  struct Row {
    std::vector<std::string> args;
    int code;
    std::string needle;
  };
  const std::string out = path("out.pem");
  const std::vector<Row> table = {
      {{"sign", "cert", "--key", "nope", "--self-signed", "--subject", "CN=x", "--days", "1", "--out", out},
       7, "no signing key labelled 'nope'"},
      {{"sign", "cert", "--key", "q", "--self-signed", "--subject", "CN=x", "--days", "1", "--out", out,
        "--shares-file", one}, 5, "1 more needed"},
      {{"sign", "cert", "--key", "root", "--issuer-cert", path("root.pem"), "--csr", path("bad.csr"),
        "--days", "1", "--out", out}, 4, "does not verify"},
      {{"sign", "cert", "--key", "root", "--issuer-cert", path("other.pem"), "--csr", path("good.csr"),
        "--days", "1", "--out", out}, 1, "issuer certificate does not match the key"},
      {{"sign", "cert", "--key", "root", "--issuer-cert", path("short.pem"), "--csr", path("good.csr"),
        "--days", "365", "--out", out}, 1, "beyond the issuer's validity"},
      {{"sign", "cert", "--key", "root", "--self-signed", "--subject", "CN=x", "--days", "1", "--out",
        path("exists.pem")}, 7, "already exists"},
      {{"sign", "cert", "--key", "root", "--issuer-cert", path("root.pem"), "--csr", path("none.csr"),
        "--days", "1", "--out", out}, 7, "does not exist"},
      {{"sign", "cert", "--key", "root", "--self-signed", "--csr", path("good.csr"), "--subject", "CN=x",
        "--days", "1", "--out", out}, 2, "either --self-signed"},
      {{"sign", "cert", "--key", "root", "--self-signed", "--days", "1", "--out", out}, 2, "--subject"},
      {{"sign", "cert", "--key", "root", "--self-signed", "--subject", "CN=x", "--days", "0", "--out", out},
       2, "--days"},
      {{"sign", "cert", "--key", "root", "--self-signed", "--subject", "XX=x", "--days", "1", "--out", out},
       2, "XX"},
      {{"sign", "cert", "--key", "root", "--issuer-cert", path("root.pem"), "--csr", path("good.csr"),
        "--days", "1", "--profile", "web", "--out", out}, 2, "unknown certificate profile"},
      {{"sign", "csr", "--key", "nope", "--subject", "CN=x", "--out", out}, 7, "no signing key"},
      {{"sign", "csr", "--key", "root", "--subject", "CN=x", "--out", path("exists.pem")}, 7, "already exists"},
      {{"sign", "crl", "--key", "root", "--issuer-cert", path("other.pem"), "--next-update", "7", "--out",
        out}, 1, "issuer certificate does not match the key"},
      {{"sign", "crl", "--key", "root", "--issuer-cert", path("root.pem"), "--next-update", "7", "--revoke",
        "zz", "--out", out}, 2, "not a certificate serial"},
      {{"sign", "crl", "--key", "root", "--issuer-cert", path("root.pem"), "--next-update", "7", "--revoke",
        "01:badReason", "--out", out}, 2, "unknown revocation reason"},
      {{"sign", "crl", "--key", "root", "--issuer-cert", path("root.pem"), "--next-update", "0", "--out",
        out}, 2, "--next-update"},
      {{"sign", "crl", "--key", "root", "--issuer-cert", path("root.pem"), "--next-update", "7", "--out",
        path("exists.pem")}, 7, "already exists"},
      {{"sign", "file", "--key", "root", "--in", in, "--out", out, "--format", "cms"}, 2, "needs --cert"},
      {{"sign", "file", "--key", "root", "--in", in, "--out", out, "--format", "cms", "--cert",
        path("other.pem")}, 1, "does not match the key"},
      {{"sign", "file", "--key", "root", "--in", in, "--out", out, "--format", "pgp"}, 2, "--format"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.needle);
    expect_failure(hsmctl(row.args), row.code, row.needle);
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(read_file(path("exists.pem")), "");
  // Failed CRL ceremonies took no CRL number: the first good one is number 1.
  const RunResult good = crl("root", "root.pem", "first.crl", {"--json"});
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(good.json()["crl_number"], 1);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
