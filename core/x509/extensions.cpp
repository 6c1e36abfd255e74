// The certificate profiles' extensions (see certificate.h for the table).
#include "core/x509/extensions.h"

#include <openssl/x509v3.h>

#include <string>

#include "core/x509/assembly.h"

namespace hsm::x509 {

namespace {

using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, OpensslFree<BASIC_CONSTRAINTS_free>>;
using BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, OpensslFree<ASN1_BIT_STRING_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, OpensslFree<AUTHORITY_KEYID_free>>;
using KeyPurposesPtr = std::unique_ptr<EXTENDED_KEY_USAGE, OpensslFree<EXTENDED_KEY_USAGE_free>>;

// RFC 5280 4.2.1.3 bit numbers.
constexpr int kDigitalSignature = 0, kKeyCertSign = 5, kCrlSign = 6;

void add(X509* cert, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1)
    fail(Category::general, std::string("cannot add the ") + OBJ_nid2ln(nid) + " extension",
         openssl_error());
}

OctetStringPtr octet_string(ByteView bytes) {
  OctetStringPtr s(ASN1_OCTET_STRING_new());
  if (!s || ASN1_OCTET_STRING_set(s.get(), bytes.data(), static_cast<int>(bytes.size())) != 1)
    fail(Category::general, "out of memory", openssl_error());
  return s;
}

}  // namespace

void add_profile_extensions(X509* cert, Profile profile, std::optional<int> path_length,
                            ByteView authority_key_id) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  constraints->ca = profile == Profile::ca ? 0xff : 0;
  if (path_length) {
    constraints->pathlen = ASN1_INTEGER_new();
    ASN1_INTEGER_set(constraints->pathlen, *path_length);
  }
  add(cert, NID_basic_constraints, constraints.get(), true);

  BitStringPtr usage(ASN1_BIT_STRING_new());
  if (profile == Profile::ca) {
    ASN1_BIT_STRING_set_bit(usage.get(), kKeyCertSign, 1);
    ASN1_BIT_STRING_set_bit(usage.get(), kCrlSign, 1);
  } else {
    ASN1_BIT_STRING_set_bit(usage.get(), kDigitalSignature, 1);
  }
  add(cert, NID_key_usage, usage.get(), true);

  if (profile == Profile::code) {
    KeyPurposesPtr purposes(sk_ASN1_OBJECT_new_null());
    sk_ASN1_OBJECT_push(purposes.get(), OBJ_nid2obj(NID_code_sign));  // static object: no free
    add(cert, NID_ext_key_usage, purposes.get(), false);
  }

  add(cert, NID_subject_key_identifier,
      octet_string(key_identifier(X509_get_X509_PUBKEY(cert))).get(), false);

  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  authority->keyid = octet_string(authority_key_id).release();
  add(cert, NID_authority_key_identifier, authority.get(), false);
}

}  // namespace hsm::x509
