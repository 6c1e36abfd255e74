// CMS detached signatures. OpenSSL builds the SignedData around a public-only key
// (CMS_add1_signer only compares it with the certificate, and CMS_PARTIAL stops it signing);
// hsmctl adds the signed attributes, has the Signer sign their DER SET (RFC 5652 5.4), sets the
// signature and its AlgorithmIdentifier, then OpenSSL parses the result and verifies it.
#include "core/x509/cms.h"

#include <openssl/evp.h>

#include "core/x509/assembly.h"
#include "core/x509/der.h"
#include "core/x509/pem.h"

namespace hsm::x509 {

namespace {

constexpr unsigned kFlags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;

// The DER of the signed attributes as a SET OF: exactly what the signature covers.
Bytes signed_attributes(CMS_SignerInfo* si) {
  std::vector<Bytes> encoded;
  for (int i = 0; i < CMS_signed_get_attr_count(si); ++i) {
    unsigned char* p = nullptr;
    const int length = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &p);
    if (length <= 0) fail(Category::general, "cannot encode a signed attribute", openssl_error());
    encoded.emplace_back(p, p + length);
    OPENSSL_free(p);
  }
  return der::set_of(std::move(encoded));
}

void add_signed_attributes(CMS_SignerInfo* si, ByteView content, const EVP_MD* md) {
  Bytes digest(static_cast<std::size_t>(EVP_MD_get_size(md)));
  TimePtr now(X509_gmtime_adj(nullptr, 0));  // UTCTime until 2049, as RFC 5652 11.3 asks
  if (EVP_Digest(content.data(), content.size(), digest.data(), nullptr, md, nullptr) != 1 ||
      !now ||
      CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                  OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
      CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest.data(),
                                  static_cast<int>(digest.size())) != 1 ||
      CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, ASN1_STRING_type(now.get()), now.get(),
                                  -1) != 1)
    fail(Category::general, "cannot add the CMS signed attributes", openssl_error());
}

void set_signature(CMS_SignerInfo* si, KeyAlgorithm algorithm, const Bytes& signature) {
  const Bytes identifier = signature_algorithm(algorithm);
  const unsigned char* p = identifier.data();
  AlgorithmPtr parsed(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(identifier.size())));
  X509_ALGOR* slot = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &slot);
  if (!parsed || slot == nullptr || X509_ALGOR_copy(slot, parsed.get()) != 1 ||
      ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), signature.data(),
                      static_cast<int>(signature.size())) != 1)
    fail(Category::general, "cannot set the CMS signature", openssl_error());
}

Bytes encode(CMS_ContentInfo* cms) {
  unsigned char* p = nullptr;
  const int length = i2d_CMS_ContentInfo(cms, &p);
  if (length <= 0) fail(Category::general, "cannot encode the CMS signature", openssl_error());
  Bytes out(p, p + length);
  OPENSSL_free(p);
  return out;
}

void verify(const Bytes& der, ByteView content) {
  const unsigned char* p = der.data();
  CmsPtr parsed(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  BioPtr data(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  // The signature only: the caller's trust anchors decide about the certificate chain.
  const int ok = parsed && data ? CMS_verify(parsed.get(), nullptr, nullptr, data.get(), nullptr,
                                             CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY)
                                : 0;
  require_signature_verifies(ok, "CMS signature");
}

}  // namespace

Bytes cms_detached_signature(ByteView content, ByteView signer_certificate, Signer& signer,
                             const std::vector<Bytes>& chain) {
  if (signer.algorithm() == KeyAlgorithm::ed25519)
    fail(Category::usage,
         "CMS signatures need an EC or RSA key: OpenSSL 3 cannot verify "
         "Ed25519 in CMS; use a raw signature for this key");
  crypto::Pkey key = signer_key(signer);
  CertificatePtr cert =
      parse_certificate(from_pem_or_der(signer_certificate, PemKind::certificate), Category::usage,
                        "the signing certificate is not a certificate (PEM or DER)");
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1)
    fail(Category::general,
         "the signing certificate does not match the key: its public key is "
         "not the signing key's");
  const EVP_MD* md = signer.algorithm() == KeyAlgorithm::ec_p384 ? EVP_sha384() : EVP_sha256();

  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags | CMS_DETACHED));
  CMS_SignerInfo* si =
      cms ? CMS_add1_signer(cms.get(), cert.get(), key.get(), md, kFlags) : nullptr;
  if (si == nullptr) fail(Category::general, "cannot start a CMS signature", openssl_error());
  for (const Bytes& extra : chain) {
    CertificatePtr c =
        parse_certificate(from_pem_or_der(extra, PemKind::certificate), Category::usage,
                          "a chain certificate is not a certificate");
    if (X509_cmp(c.get(), cert.get()) == 0) continue;  // already there as the signer's
    if (CMS_add1_cert(cms.get(), c.get()) != 1)        // takes its own reference
      fail(Category::general, "cannot add a chain certificate", openssl_error());
  }
  add_signed_attributes(si, content, md);
  set_signature(si, signer.algorithm(), signer.sign(signed_attributes(si)));

  const Bytes der = encode(cms.get());
  verify(der, content);
  return der;
}

}  // namespace hsm::x509
