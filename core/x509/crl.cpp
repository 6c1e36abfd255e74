// CRLs: revoked entries, cRLNumber and authorityKeyIdentifier on a CRL skeleton (assembly.h),
// signed through the Signer and verified with the issuer's key.
#include "core/x509/crl.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include "core/x509/assembly.h"
#include "core/x509/pem.h"

namespace hsm::x509 {

namespace {

using EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, OpensslFree<ASN1_ENUMERATED_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, OpensslFree<AUTHORITY_KEYID_free>>;

constexpr struct {
  RevocationReason reason;
  const char* name;
} kReasons[] = {
    {RevocationReason::unspecified, "unspecified"},
    {RevocationReason::key_compromise, "keyCompromise"},
    {RevocationReason::ca_compromise, "cACompromise"},
    {RevocationReason::affiliation_changed, "affiliationChanged"},
    {RevocationReason::superseded, "superseded"},
    {RevocationReason::cessation_of_operation, "cessationOfOperation"},
    {RevocationReason::certificate_hold, "certificateHold"},
    {RevocationReason::remove_from_crl, "removeFromCRL"},
    {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
    {RevocationReason::aa_compromise, "aACompromise"},
};

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// The serial's hex digits without separators or leading zeros; Error(usage) when malformed.
std::string normalized_serial(std::string_view text) {
  std::string digits;
  for (char c : text)
    if (c != ':') digits.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty() || !all_hex(digits) || digits.size() > 40)
    fail(Category::usage, "'" + std::string(text) +
                              "' is not a certificate serial number (hex, 1 to 20 bytes, not 0)");
  return digits;
}

RevokedPtr revoked_entry(const std::string& serial_digits, const Revoked& r, std::time_t now) {
  RevokedPtr entry(X509_REVOKED_new());
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, serial_digits.c_str());
  IntegerPtr serial(n != nullptr ? BN_to_ASN1_INTEGER(n, nullptr) : nullptr);
  BN_free(n);
  TimePtr when(ASN1_TIME_set(nullptr, static_cast<std::time_t>(r.revoked_at.value_or(now))));
  if (!entry || !serial || !when || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
      X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1)
    fail(Category::general, "cannot fill in a revoked entry", openssl_error());
  if (r.reason != RevocationReason::unspecified) {  // RFC 5280 5.3.1: then leave it out
    EnumeratedPtr code(ASN1_ENUMERATED_new());
    ASN1_ENUMERATED_set(code.get(), static_cast<long>(r.reason));
    if (X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0) != 1)
      fail(Category::general, "cannot add a reason code", openssl_error());
  }
  return entry;
}

void check_issuer(X509* issuer, EVP_PKEY* signer_key) {
  if (EVP_PKEY_eq(X509_get0_pubkey(issuer), signer_key) != 1)
    fail(Category::general,
         "issuer certificate does not match the key: its public key is not "
         "the signing key's; give the certificate of this key");
  if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0 &&
      (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0)
    fail(Category::general, "the issuer certificate's keyUsage does not allow cRLSign");
}

}  // namespace

std::string revocation_reason_name(RevocationReason r) {
  for (const auto& entry : kReasons)
    if (entry.reason == r) return entry.name;
  return "unspecified";
}

RevocationReason revocation_reason_from_name(std::string_view name) {
  for (const auto& entry : kReasons)
    if (name == entry.name) return entry.reason;
  fail(Category::usage, "unknown revocation reason '" + std::string(name) +
                            "'; use an RFC 5280 name such as keyCompromise or superseded");
}

Revoked revocation_from_text(std::string_view text) {
  Revoked r;
  const std::size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && !all_hex(text.substr(colon + 1))) {
    r.reason = revocation_reason_from_name(text.substr(colon + 1));
    text = text.substr(0, colon);
  }
  r.serial_hex = normalized_serial(text);
  return r;
}

Bytes crl(ByteView issuer_certificate, const std::vector<Revoked>& revoked, std::int64_t crl_number,
          int next_update_days, Signer& signer) {
  if (crl_number < 0) fail(Category::usage, "the CRL number must not be negative");
  if (next_update_days < 1 || next_update_days > kMaxDays)
    fail(Category::usage,
         "--next-update must be between 1 and " + std::to_string(kMaxDays) + " days");
  CertificatePtr issuer =
      parse_certificate(from_pem_or_der(issuer_certificate, PemKind::certificate), Category::usage,
                        "the issuer certificate is not a certificate (PEM or DER)");
  crypto::Pkey key = signer_key(signer);
  check_issuer(issuer.get(), key.get());

  std::time_t now = std::time(nullptr);
  CrlPtr list = crl_skeleton(signer.algorithm());
  TimePtr this_update(ASN1_TIME_set(nullptr, now));
  TimePtr next_update(X509_time_adj_ex(nullptr, next_update_days, 0, &now));
  if (X509_CRL_set_issuer_name(list.get(), X509_get_subject_name(issuer.get())) != 1 ||
      !this_update || !next_update ||
      X509_CRL_set1_lastUpdate(list.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(list.get(), next_update.get()) != 1)
    fail(Category::general, "cannot fill in the CRL", openssl_error());

  std::set<std::string> seen;
  for (const Revoked& r : revoked) {
    const std::string digits = normalized_serial(r.serial_hex);
    if (!seen.insert(digits).second)
      fail(Category::usage, "serial " + digits + " is listed twice; revoke it once");
    if (X509_CRL_add0_revoked(list.get(), revoked_entry(digits, r, now).release()) != 1)
      fail(Category::general, "cannot add a revoked entry", openssl_error());
  }
  X509_CRL_sort(list.get());

  IntegerPtr number(ASN1_INTEGER_new());
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  OctetStringPtr key_id(ASN1_OCTET_STRING_new());
  const Bytes id = issuer_key_identifier(issuer.get());
  if (ASN1_INTEGER_set_int64(number.get(), crl_number) != 1 ||
      ASN1_OCTET_STRING_set(key_id.get(), id.data(), static_cast<int>(id.size())) != 1)
    fail(Category::general, "cannot encode the CRL extensions", openssl_error());
  authority->keyid = key_id.release();
  if (X509_CRL_add1_ext_i2d(list.get(), NID_authority_key_identifier, authority.get(), 0, 0) != 1 ||
      X509_CRL_add1_ext_i2d(list.get(), NID_crl_number, number.get(), 0, 0) != 1)
    fail(Category::general, "cannot add the CRL extensions", openssl_error());

  const Bytes der = signed_structure(tbs_of(list.get()), signer);
  CrlPtr made = parse_crl(der, Category::integrity, "the assembled CRL does not parse");
  require_signature_verifies(X509_CRL_verify(made.get(), key.get()), "CRL");
  return der;
}

}  // namespace hsm::x509
