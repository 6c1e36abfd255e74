// CSRs: built with X509_REQ and signed through assembly.h; read and checked before issuance.
#include "core/x509/request.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>

#include "core/x509/assembly.h"
#include "core/x509/name.h"
#include "core/x509/pem.h"

namespace hsm::x509 {

namespace {

bool acceptable_subject_key(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return EVP_PKEY_get_bits(key) >= 2048;
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return true;
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &length) != 1)
    return false;
  const std::string name = group;
  return name == "prime256v1" || name == "secp384r1" || name == "secp521r1";
}

}  // namespace

Bytes certificate_request(std::string_view subject, Signer& signer) {
  NamePtr name = parse_name(subject_name(subject));
  crypto::Pkey key = signer_key(signer);
  RequestPtr request(X509_REQ_new());
  if (!request || X509_REQ_set_version(request.get(), 0) != 1 ||  // v1, the only version
      X509_REQ_set_subject_name(request.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(request.get(), key.get()) != 1)
    fail(Category::general, "cannot fill in the certificate request", openssl_error());

  const Bytes der = signed_structure(tbs_of(request.get()), signer);
  RequestPtr made =
      parse_request(der, Category::integrity, "the assembled certificate request does not parse");
  require_signature_verifies(X509_REQ_verify(made.get(), key.get()), "certificate request");
  return der;
}

VerifiedRequest read_certificate_request(ByteView pem_or_der) {
  RequestPtr request =
      parse_request(from_pem_or_der(pem_or_der, PemKind::certificate_request), Category::usage,
                    "not a certificate signing request (PEM or DER)");
  EVP_PKEY* key = X509_REQ_get0_pubkey(request.get());
  if (key == nullptr) fail(Category::usage, "the CSR's public key cannot be read", openssl_error());
  if (X509_REQ_verify(request.get(), key) != 1)
    fail(Category::integrity,
         "CSR signature does not verify: the request was altered or not signed by its own key",
         openssl_error());
  if (X509_NAME_entry_count(X509_REQ_get_subject_name(request.get())) == 0)
    fail(Category::usage, "the CSR has an empty subject; ask for one with a CN");
  if (!acceptable_subject_key(key))
    fail(Category::usage,
         "the CSR's key is not one hsmctl certifies: use RSA of 2048 bits or more, "
         "EC P-256/P-384/P-521, Ed25519 or Ed448");
  VerifiedRequest out;
  out.subject = name_der(X509_REQ_get_subject_name(request.get()));
  out.public_key = spki_der(X509_REQ_get_X509_PUBKEY(request.get()));  // exactly as asked
  return out;
}

}  // namespace hsm::x509
