// The whole failure contract of core/x509 in one table: each bad input, the category it maps
// to (usage 2, integrity 4, general 1 — hsmctl's exit codes) and the words that say why.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "core/x509/certificate.h"
#include "core/x509/cms.h"
#include "core/x509/crl.h"
#include "core/x509/name.h"
#include "core/x509/request.h"
#include "tests/x509/fixtures.h"

namespace hsm::x509 {
namespace {

using testing::SoftwareSigner;
using testing::terms;

// A CSR made by OpenSSL itself with a software key (for what certificate_request refuses).
Bytes openssl_csr(EVP_PKEY* key, const char* common_name) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_pubkey(req, key);
  if (common_name != nullptr)
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_REQ_sign(req, key, EVP_sha256());
  unsigned char* p = nullptr;
  const int n = i2d_X509_REQ(req, &p);
  Bytes out(p, p + n);
  OPENSSL_free(p);
  X509_REQ_free(req);
  return out;
}

// The CSR with one letter of its subject changed: the signature no longer covers it.
Bytes tampered(Bytes csr) {
  const std::string cn = "Intermediate";
  auto at = std::search(csr.begin(), csr.end(), cn.begin(), cn.end());
  EXPECT_NE(at, csr.end());
  *at = 'X';
  return csr;
}

struct Refusal {
  const char* name;
  Category category;
  const char* says;
  std::function<void()> call;
};

TEST(X509Refusals, EachBadInputIsRefusedWithItsCategoryAndReason) {
  SoftwareSigner root_key(KeyAlgorithm::ec_p256, 0), other_key(KeyAlgorithm::ec_p256, 1);
  const Bytes root =
      self_signed_certificate("CN=Refusals Root", terms(Profile::ca, 10, 1), root_key);
  const Bytes csr = certificate_request("CN=Intermediate", other_key);
  const Bytes int0 = issue_certificate(csr, root, terms(Profile::ca, 5, 0), root_key);
  const Bytes leaf = issue_certificate(csr, root, terms(Profile::leaf, 5), root_key);
  crypto::Pkey rsa1024(EVP_RSA_gen(1024));
  struct Liar : SoftwareSigner {  // an ec-p256 key that says it is ec-p384
    Liar() : SoftwareSigner(KeyAlgorithm::ec_p256) {}
    KeyAlgorithm algorithm() const override { return KeyAlgorithm::ec_p384; }
  } liar;
  SoftwareSigner ed_key(KeyAlgorithm::ed25519);
  const Bytes ed_root = self_signed_certificate("CN=Ed", terms(Profile::leaf), ed_key);
  Bytes zero_serial(20, 0);
  zero_serial[0] = 0x80;  // only the sign bit, which is cleared
  const auto with_serial = [](Bytes serial) {
    CertificateTerms t = terms(Profile::ca);
    t.serial = std::move(serial);
    return t;
  };

  const std::vector<Refusal> table = {
      // Subjects (usage).
      {"empty subject", Category::usage, "empty", [&] { subject_name(" "); }},
      {"no '='", Category::usage, "has no '='", [&] { subject_name("CN"); }},
      {"empty value", Category::usage, "empty value", [&] { subject_name("CN=,O=x"); }},
      {"unknown attribute", Category::usage, "unknown attribute 'XX'",
       [&] { subject_name("XX=a"); }},
      {"slash form", Category::usage, "unknown attribute '/CN'",
       [&] { subject_name("/CN=a/O=b"); }},
      {"multi-valued", Category::usage, "multi-valued", [&] { subject_name("CN=a+O=b"); }},
      {"country", Category::usage, "two-letter", [&] { subject_name("CN=a,C=DEU"); }},
      {"country in lower case", Category::usage, "capitals", [&] { subject_name("C=de"); }},
      {"empty part", Category::usage, "empty part", [&] { subject_name("CN=a,,O=b"); }},
      {"dangling backslash", Category::usage, "backslash", [&] { subject_name("CN=a\\"); }},
      {"CN too long", Category::usage, "too long",
       [&] { subject_name("CN=" + std::string(65, 'a')); }},
      // Certificate terms (usage).
      {"short serial", Category::usage, "20 random bytes",
       [&] { self_signed_certificate("CN=a", with_serial(Bytes(19, 1)), root_key); }},
      {"zero serial", Category::usage, "zero",
       [&] { self_signed_certificate("CN=a", with_serial(zero_serial), root_key); }},
      {"zero days", Category::usage, "--days",
       [&] { self_signed_certificate("CN=a", terms(Profile::ca, 0), root_key); }},
      {"a century and more", Category::usage, "--days",
       [&] { self_signed_certificate("CN=a", terms(Profile::ca, 36526), root_key); }},
      {"pathLen on a leaf", Category::usage, "ca profile only",
       [&] { self_signed_certificate("CN=a", terms(Profile::leaf, 1, 0), root_key); }},
      {"negative pathLen", Category::usage, "negative",
       [&] { self_signed_certificate("CN=a", terms(Profile::ca, 1, -1), root_key); }},
      {"unknown profile", Category::usage, "ca, leaf or code", [&] { profile_from_name("tls"); }},
      // CSRs.
      {"tampered CSR", Category::integrity, "CSR signature does not verify",
       [&] { issue_certificate(tampered(csr), root, terms(Profile::ca, 5), root_key); }},
      {"not a CSR", Category::usage, "not a certificate signing request",
       [&] { issue_certificate(to_bytes("garbage"), root, terms(Profile::ca, 5), root_key); }},
      {"certificate given as CSR", Category::usage, "expected PEM CERTIFICATE REQUEST",
       [&] {
         issue_certificate(as_bytes(to_pem(PemKind::certificate, root)), root,
                           terms(Profile::ca, 5), root_key);
       }},
      {"CSR with an empty subject", Category::usage, "empty subject",
       [&] {
         issue_certificate(openssl_csr(testing::software_key(KeyAlgorithm::ec_p256, 1), nullptr),
                           root, terms(Profile::leaf, 5), root_key);
       }},
      {"CSR with RSA-1024", Category::usage, "not one hsmctl certifies",
       [&] {
         issue_certificate(openssl_csr(rsa1024.get(), "weak"), root, terms(Profile::leaf, 5),
                           root_key);
       }},
      // Issuers (general).
      {"issuer of another key", Category::general, "issuer certificate does not match the key",
       [&] { issue_certificate(csr, root, terms(Profile::leaf, 5), other_key); }},
      {"days beyond the issuer", Category::general,
       "--days goes beyond the issuer's validity (until",
       [&] { issue_certificate(csr, root, terms(Profile::leaf, 11), root_key); }},
      {"issuer is not a CA", Category::general, "not a CA certificate",
       [&] { issue_certificate(csr, leaf, terms(Profile::leaf, 1), other_key); }},
      {"issuer's pathLen 0", Category::general, "pathLen 0",
       [&] { issue_certificate(csr, int0, terms(Profile::ca, 1), other_key); }},
      {"pathLen not below the issuer's", Category::general, "must be below the issuer's (1)",
       [&] { issue_certificate(csr, root, terms(Profile::ca, 5, 1), root_key); }},
      {"issuer not a certificate", Category::usage, "not a certificate",
       [&] { issue_certificate(csr, to_bytes("junk"), terms(Profile::leaf, 5), root_key); }},
      {"key not of its algorithm", Category::general, "is not ec-p384",
       [&] { certificate_request("CN=a", liar); }},
      // CRLs.
      {"CRL issuer of another key", Category::general, "issuer certificate does not match the key",
       [&] { crl(root, {}, 1, 7, other_key); }},
      {"CRL issuer without cRLSign", Category::general, "cRLSign",
       [&] { crl(leaf, {}, 1, 7, other_key); }},
      {"CRL serial not hex", Category::usage, "not a certificate serial number",
       [&] {
         crl(root, {{"12xz", RevocationReason::superseded, {}}}, 1, 7, root_key);
       }},
      {"CRL serial zero", Category::usage, "not a certificate serial number",
       [&] {
         crl(root, {{"00:00", RevocationReason::superseded, {}}}, 1, 7, root_key);
       }},
      {"CRL serial over 20 bytes", Category::usage, "not a certificate serial number",
       [&] {
         crl(root, {{std::string(42, '1'), RevocationReason::superseded, {}}}, 1, 7, root_key);
       }},
      {"CRL serial twice", Category::usage, "listed twice",
       [&] {
         crl(root, {{"0a", {}, {}}, {"00:0A", {}, {}}}, 1, 7, root_key);
       }},
      {"CRL number negative", Category::usage, "negative", [&] { crl(root, {}, -1, 7, root_key); }},
      {"CRL next update 0", Category::usage, "--next-update",
       [&] { crl(root, {}, 1, 0, root_key); }},
      {"unknown reason", Category::usage, "unknown revocation reason 'stolen'",
       [&] { revocation_from_text("0A:stolen"); }},
      // CMS.
      {"CMS with Ed25519", Category::usage, "Ed25519",
       [&] { cms_detached_signature(to_bytes("x"), ed_root, ed_key); }},
      {"CMS certificate of another key", Category::general, "does not match the key",
       [&] { cms_detached_signature(to_bytes("x"), root, other_key); }},
      {"CMS certificate not a certificate", Category::usage, "not a certificate",
       [&] { cms_detached_signature(to_bytes("x"), to_bytes("junk"), root_key); }},
  };
  for (const Refusal& r : table) {
    const auto e = testing::error_of(r.call);
    if (!e) {
      ADD_FAILURE() << r.name << ": not refused";
      continue;
    }
    EXPECT_EQ(category_name(e->category()), category_name(r.category))
        << r.name << ": " << e->what();
    EXPECT_NE(std::string(e->what()).find(r.says), std::string::npos)
        << r.name << ": " << e->what();
  }
}

}  // namespace
}  // namespace hsm::x509
