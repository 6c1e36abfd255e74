// Owning handles for the OpenSSL objects core/x509 builds, so every early return and throw
// frees them; internal to core/x509, never part of its public headers.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace hsm::x509 {

template <auto Free>
struct OpensslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

using CertificatePtr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using RequestPtr = std::unique_ptr<X509_REQ, OpensslFree<X509_REQ_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, OpensslFree<X509_CRL_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, OpensslFree<X509_REVOKED_free>>;
using NamePtr = std::unique_ptr<X509_NAME, OpensslFree<X509_NAME_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, OpensslFree<ASN1_TIME_free>>;
using IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpensslFree<ASN1_INTEGER_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, OpensslFree<ASN1_OCTET_STRING_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OpensslFree<CMS_ContentInfo_free>>;
using AlgorithmPtr = std::unique_ptr<X509_ALGOR, OpensslFree<X509_ALGOR_free>>;

// The first queued OpenSSL error as text ("" when none), for Error::cause(); clears the queue.
std::string openssl_error();

}  // namespace hsm::x509
