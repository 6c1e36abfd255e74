// Skeletons, framing, parsing and the post-issuance check shared by certificates, CSRs and CRLs
// (the why is in assembly.h).
#include "core/x509/assembly.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/x509/der.h"

namespace hsm::x509 {

namespace {

// A placeholder time ("700101000000Z") for skeleton fields the caller always replaces.
const Bytes kPlaceholderTime{der::kUtcTime, 13,  '7', '0', '0', '1', '0', '1',
                             '0',           '0', '0', '0', '0', '0', 'Z'};
const Bytes kEmptyName{der::kSequence, 0};
const Bytes kPlaceholderSerial{der::kInteger, 1, 1};

template <class T, T* (*D2i)(T**, const unsigned char**, long), void (*Free)(T*)>
std::unique_ptr<T, OpensslFree<Free>> parse_der(ByteView der, Category category,
                                                const std::string& message) {
  const unsigned char* p = der.data();
  T* value = D2i(nullptr, &p, static_cast<long>(der.size()));
  if (value == nullptr || p != der.data() + der.size()) {
    Free(value);
    fail(category, message, openssl_error());
  }
  return std::unique_ptr<T, OpensslFree<Free>>(value);
}

// The DER `i2d` writes into a buffer OpenSSL allocates.
template <class I2d>
Bytes encoded(I2d i2d, const char* what) {
  unsigned char* buffer = nullptr;
  const int length = i2d(&buffer);
  if (length <= 0 || buffer == nullptr)
    fail(Category::general, std::string("OpenSSL cannot encode the ") + what, openssl_error());
  Bytes out(buffer, buffer + length);
  OPENSSL_free(buffer);
  return out;
}

}  // namespace

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

CertificatePtr certificate_skeleton(KeyAlgorithm a, ByteView spki) {
  const Bytes algorithm = signature_algorithm(a);
  const Bytes version = der::tlv(0xa0, Bytes{der::kInteger, 1, 2});  // [0] EXPLICIT v3
  const Bytes validity = der::sequence({kPlaceholderTime, kPlaceholderTime});
  const Bytes tbs = der::sequence(
      {version, kPlaceholderSerial, algorithm, kEmptyName, validity, kEmptyName, spki});
  return parse_certificate(der::sequence({tbs, algorithm, der::bit_string({})}), Category::general,
                           "cannot prepare a certificate for this key");
}

CrlPtr crl_skeleton(KeyAlgorithm a) {
  const Bytes algorithm = signature_algorithm(a);
  const Bytes version{der::kInteger, 1, 1};  // v2
  const Bytes tbs = der::sequence({version, algorithm, kEmptyName, kPlaceholderTime});
  return parse_crl(der::sequence({tbs, algorithm, der::bit_string({})}), Category::general,
                   "cannot prepare a CRL for this key");
}

Bytes signed_structure(ByteView tbs, Signer& signer) {
  const Bytes signature = signer.sign(tbs);
  return der::sequence({tbs, signature_algorithm(signer.algorithm()), der::bit_string(signature)});
}

Bytes tbs_of(X509* cert) {
  return encoded([&](unsigned char** p) { return i2d_re_X509_tbs(cert, p); }, "certificate");
}

Bytes tbs_of(X509_REQ* request) {
  return encoded([&](unsigned char** p) { return i2d_re_X509_REQ_tbs(request, p); },
                 "certificate request");
}

Bytes tbs_of(X509_CRL* crl) {
  return encoded([&](unsigned char** p) { return i2d_re_X509_CRL_tbs(crl, p); }, "CRL");
}

CertificatePtr parse_certificate(ByteView der, Category category, const std::string& message) {
  return parse_der<X509, d2i_X509, X509_free>(der, category, message);
}

RequestPtr parse_request(ByteView der, Category category, const std::string& message) {
  return parse_der<X509_REQ, d2i_X509_REQ, X509_REQ_free>(der, category, message);
}

CrlPtr parse_crl(ByteView der, Category category, const std::string& message) {
  return parse_der<X509_CRL, d2i_X509_CRL, X509_CRL_free>(der, category, message);
}

NamePtr parse_name(ByteView der) {
  return parse_der<X509_NAME, d2i_X509_NAME, X509_NAME_free>(der, Category::general,
                                                             "malformed distinguished name");
}

Bytes name_der(const X509_NAME* name) {
  return encoded([&](unsigned char** p) { return i2d_X509_NAME(name, p); }, "distinguished name");
}

Bytes spki_der(const X509_PUBKEY* spki) {
  return encoded([&](unsigned char** p) { return i2d_X509_PUBKEY(spki, p); }, "public key");
}

void require_signature_verifies(int verified, const std::string& what) {
  if (verified != 1)
    fail(Category::integrity,
         "the signature on the new " + what +
             " does not verify with the signing key's public key, so it was not issued; "
             "check that the key and the token are the ones intended",
         openssl_error());
}

Bytes key_identifier(const X509_PUBKEY* spki) {
  const unsigned char* key = nullptr;
  int length = 0;
  if (X509_PUBKEY_get0_param(nullptr, &key, &length, nullptr, spki) != 1)
    fail(Category::general, "cannot read a public key", openssl_error());
  Bytes id(20);
  if (EVP_Digest(key, static_cast<size_t>(length), id.data(), nullptr, EVP_sha1(), nullptr) != 1)
    fail(Category::general, "cannot compute a key identifier", openssl_error());
  return id;
}

Bytes issuer_key_identifier(X509* issuer) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer);
  if (ski == nullptr) return key_identifier(X509_get_X509_PUBKEY(issuer));
  const unsigned char* data = ASN1_STRING_get0_data(ski);
  return Bytes(data, data + ASN1_STRING_length(ski));
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable time";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

}  // namespace hsm::x509
