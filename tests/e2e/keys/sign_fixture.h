// The fixture of the sign_*_test.cpp end-to-end tests: a workspace with a 2-of-3 master, share
// files, and helpers that run `hsmctl key|sign` and stock openssl on the files they produce.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "support/hsm_fixture.h"

namespace hsm::test {

// "ecp256" for the test named after "ec-p256" (gtest names allow no '-').
inline std::string algorithm_test_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string n = p.param;
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  return n;
}

class SignTest : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares_).code, 0);
  }
  std::string path(const std::string& name) const { return (tmp_.path() / name).string(); }
  std::string share_file(const std::string& name, const std::vector<std::string>& custodians) {
    std::string text;
    for (const auto& c : custodians) text += read_file(shares_ / (c + ".share"));
    return write_file(name, text).string();
  }
  void generate(const std::string& label, const std::string& algo, const std::string& purpose = "ca") {
    const RunResult r = hsmctl({"key", "generate", label, "--algo", algo, "--purpose", purpose});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  RunResult self_signed(const std::string& key, const std::string& subject, const std::string& out,
                        const std::string& days = "3650", std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"sign", "cert", "--key", key, "--self-signed", "--subject",
                               subject, "--days", days, "--out", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return hsmctl(a);
  }
  RunResult issue(const std::string& key, const std::string& issuer, const std::string& csr,
                  const std::string& out, const std::string& days = "365",
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"sign", "cert", "--key", key, "--issuer-cert", path(issuer), "--csr",
                               path(csr), "--days", days, "--out", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return hsmctl(a);
  }
  RunResult csr(const std::string& key, const std::string& subject, const std::string& out) {
    return hsmctl({"sign", "csr", "--key", key, "--subject", subject, "--out", path(out)});
  }
  RunResult crl(const std::string& key, const std::string& issuer, const std::string& out,
                std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"sign", "crl", "--key", key, "--issuer-cert", path(issuer),
                               "--next-update", "30", "--out", path(out)};
    a.insert(a.end(), extra.begin(), extra.end());
    return hsmctl(a);
  }
  // A CSR made by stock openssl for a fresh P-256 key of its own.
  void openssl_csr(const std::string& subject, const std::string& out) {
    const RunResult r = openssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                                 path(out + ".key"), "-subj", subject, "-out", path(out)});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // `openssl x509 -serial` of a certificate: the hex after "serial=".
  std::string serial_of(const std::string& cert) {
    const RunResult r = openssl({"x509", "-noout", "-serial", "-in", path(cert)});
    EXPECT_EQ(r.code, 0) << r.err;
    const auto eq = r.out.find('=');
    return eq == std::string::npos ? "" : r.out.substr(eq + 1, r.out.find('\n') - eq - 1);
  }
  void expect_openssl_ok(const std::vector<std::string>& args) {
    const RunResult r = openssl(args);
    EXPECT_EQ(r.code, 0) << "openssl " << args[0] << ": " << r.out << r.err;
  }
  std::filesystem::path shares_;
};

}  // namespace hsm::test
