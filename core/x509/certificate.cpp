// Self-signed and issued certificates: the issuer checks, the fields, then the shared signing
// path of assembly.h (TBS -> Signer -> DER -> parsed and verified).
#include "core/x509/certificate.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <ctime>

#include "core/x509/assembly.h"
#include "core/x509/extensions.h"
#include "core/x509/name.h"
#include "core/x509/pem.h"
#include "core/x509/request.h"

namespace hsm::x509 {

namespace {

IntegerPtr positive_serial(const Bytes& serial) {
  Bytes magnitude = serial;
  magnitude[0] &= 0x7f;
  BIGNUM* n = BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr);
  IntegerPtr out(n != nullptr ? BN_to_ASN1_INTEGER(n, nullptr) : nullptr);
  BN_free(n);
  if (!out) fail(Category::general, "cannot encode the serial number", openssl_error());
  return out;
}

// Everything but issuer-specific checks: serial, names, validity, extensions; then signs.
Bytes sign_certificate(CertificatePtr cert, const X509_NAME* subject, const X509_NAME* issuer,
                       std::time_t now, const CertificateTerms& terms, ByteView authority_key_id,
                       Signer& signer, EVP_PKEY* issuer_key) {
  IntegerPtr serial = positive_serial(terms.serial);
  if (X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 ||
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), terms.days, 0, &now) == nullptr)
    fail(Category::general, "cannot fill in the certificate", openssl_error());
  add_profile_extensions(cert.get(), terms.profile, terms.path_length, authority_key_id);

  const Bytes der = signed_structure(tbs_of(cert.get()), signer);
  CertificatePtr issued =
      parse_certificate(der, Category::integrity, "the assembled certificate does not parse");
  require_signature_verifies(X509_verify(issued.get(), issuer_key), "certificate");
  return der;
}

// The issuer must be the signer's key, a CA allowed to issue this profile, valid until the end.
void check_issuer(X509* issuer, EVP_PKEY* signer_key, const CertificateTerms& terms,
                  std::time_t now) {
  if (EVP_PKEY_eq(X509_get0_pubkey(issuer), signer_key) != 1)
    fail(Category::general,
         "issuer certificate does not match the key: its public key is not "
         "the signing key's; give the certificate of this key");
  const std::uint32_t flags = X509_get_extension_flags(issuer);
  if ((flags & EXFLAG_CA) == 0 ||
      ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN) == 0))
    fail(Category::general,
         "the issuer certificate is not a CA certificate (it needs "
         "basicConstraints CA:TRUE and keyUsage keyCertSign)");
  const long issuer_path_length = X509_get_pathlen(issuer);
  if (terms.profile == Profile::ca && issuer_path_length == 0)
    fail(Category::general, "the issuer's pathLen 0 allows no CA certificate below it");
  if (terms.path_length && issuer_path_length >= 0 && *terms.path_length >= issuer_path_length)
    fail(Category::general, "pathLen " + std::to_string(*terms.path_length) +
                                " must be below the issuer's (" +
                                std::to_string(issuer_path_length) + ")");
  // ASN1_TIME_cmp_time_t: -1, 0, 1 for before, equal, after; -2 for an unreadable time.
  const int starts = ASN1_TIME_cmp_time_t(X509_get0_notBefore(issuer), now);
  if (starts > 0 || starts == -2)
    fail(Category::general,
         "the issuer certificate is not valid before " + time_text(X509_get0_notBefore(issuer)));
  const std::time_t end = now + static_cast<std::time_t>(terms.days) * 86400;
  if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(issuer), end) < 0)
    fail(Category::general, "--days goes beyond the issuer's validity (until " +
                                time_text(X509_get0_notAfter(issuer)) + "); choose fewer days");
}

std::int64_t seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) fail(Category::usage, "the certificate has a malformed time");
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::string profile_name(Profile p) {
  switch (p) {
    case Profile::ca: return "ca";
    case Profile::leaf: return "leaf";
    case Profile::code: return "code";
  }
  return "";
}

Profile profile_from_name(std::string_view name) {
  for (Profile p : {Profile::ca, Profile::leaf, Profile::code})
    if (name == profile_name(p)) return p;
  fail(Category::usage,
       "unknown certificate profile '" + std::string(name) + "'; use ca, leaf or code");
}

void check_terms(const CertificateTerms& terms) {
  if (terms.serial.size() != 20)
    fail(Category::usage,
         "the serial number must be 20 random bytes, not " + std::to_string(terms.serial.size()));
  Bytes magnitude = terms.serial;
  magnitude[0] &= 0x7f;
  if (magnitude == Bytes(20, 0)) fail(Category::usage, "the serial number must not be zero");
  if (terms.days < 1 || terms.days > kMaxDays)
    fail(Category::usage, "--days must be between 1 and " + std::to_string(kMaxDays));
  if (terms.path_length && terms.profile != Profile::ca)
    fail(Category::usage, "a path length applies to the ca profile only");
  if (terms.path_length && *terms.path_length < 0)
    fail(Category::usage, "the path length must not be negative");
}

Bytes self_signed_certificate(std::string_view subject, const CertificateTerms& terms,
                              Signer& signer) {
  check_terms(terms);
  NamePtr name = parse_name(subject_name(subject));
  crypto::Pkey key = signer_key(signer);
  CertificatePtr cert = certificate_skeleton(signer.algorithm(), signer.public_key());
  const Bytes own_key_id = key_identifier(X509_get_X509_PUBKEY(cert.get()));
  return sign_certificate(std::move(cert), name.get(), name.get(), std::time(nullptr), terms,
                          own_key_id, signer, key.get());
}

Bytes issue_certificate(ByteView csr, ByteView issuer_certificate, const CertificateTerms& terms,
                        Signer& signer) {
  check_terms(terms);
  CertificatePtr issuer =
      parse_certificate(from_pem_or_der(issuer_certificate, PemKind::certificate), Category::usage,
                        "the issuer certificate is not a certificate (PEM or DER)");
  crypto::Pkey key = signer_key(signer);
  const std::time_t now = std::time(nullptr);
  check_issuer(issuer.get(), key.get(), terms, now);
  const VerifiedRequest request = read_certificate_request(csr);
  CertificatePtr cert = certificate_skeleton(signer.algorithm(), request.public_key);
  NamePtr subject = parse_name(request.subject);
  return sign_certificate(std::move(cert), subject.get(), X509_get_subject_name(issuer.get()), now,
                          terms, issuer_key_identifier(issuer.get()), signer, key.get());
}

CertificateFacts read_certificate(ByteView pem_or_der) {
  CertificatePtr cert = parse_certificate(from_pem_or_der(pem_or_der, PemKind::certificate),
                                          Category::usage, "not a certificate (PEM or DER)");
  CertificateFacts facts;
  facts.subject = name_text(name_der(X509_get_subject_name(cert.get())));
  facts.issuer = name_text(name_der(X509_get_issuer_name(cert.get())));
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  char* hex = serial != nullptr ? BN_bn2hex(serial) : nullptr;
  facts.serial_hex = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(serial);
  facts.not_before = seconds(X509_get0_notBefore(cert.get()));
  facts.not_after = seconds(X509_get0_notAfter(cert.get()));
  facts.public_key = spki_der(X509_get_X509_PUBKEY(cert.get()));
  return facts;
}

}  // namespace hsm::x509
