// Key templates (see templates.h for the rules every function here follows).
#include "core/pkcs11/templates.h"

#include <algorithm>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm::p11 {

namespace {

// The DER OID of Ed25519 as CKA_EC_PARAMS (the EC curves' are in core/crypto).
const Bytes kEd25519{0x06, 0x03, 0x2b, 0x65, 0x70};

CK_ULONG key_type(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::ec_p256:
    case KeyAlgorithm::ec_p384: return CKK_EC;
    case KeyAlgorithm::rsa3072:
    case KeyAlgorithm::rsa4096: return CKK_RSA;
    case KeyAlgorithm::ed25519: return CKK_EC_EDWARDS;
  }
  return CKK_EC;
}

CK_ULONG rsa_bits(KeyAlgorithm a) { return a == KeyAlgorithm::rsa4096 ? 4096 : 3072; }
bool is_rsa(KeyAlgorithm a) { return key_type(a) == CKK_RSA; }

// Private keys may sign and nothing else.
void deny_private_usage(Template& t) {
  t.set(CKA_DECRYPT, false).set(CKA_UNWRAP, false).set(CKA_DERIVE, false);
}

Template sealed_unwrap_template() {
  Template t;
  t.set(CKA_SENSITIVE, true).set(CKA_EXTRACTABLE, false);
  return t;
}

Template aes_key(bool token, const std::string& label, ByteView id) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_AES})
      .set(CKA_TOKEN, token).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false);
  if (!label.empty()) t.set(CKA_LABEL, std::string_view(label));
  if (!id.empty()) t.set(CKA_ID, id);
  return t;
}

// A generic secret for HMAC-SHA256 (the KEK derivation fallback), same rules as aes_key.
Template hmac_key(bool token, const std::string& label, ByteView id) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_GENERIC_SECRET})
      .set(CKA_TOKEN, token).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false);
  if (!label.empty()) t.set(CKA_LABEL, std::string_view(label));
  if (!id.empty()) t.set(CKA_ID, id);
  return t;
}

std::vector<CK_MECHANISM_TYPE> mechanism_types(const Mechanisms& ms) {
  std::vector<CK_MECHANISM_TYPE> out;
  for (SignMechanism m : ms) {
    const CK_MECHANISM_TYPE t = mechanism_type(m);
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace

CK_MECHANISM_TYPE mechanism_type(SignMechanism m) {
  switch (m) {
    case SignMechanism::ecdsa_sha256:
    case SignMechanism::ecdsa_sha384: return CKM_ECDSA;
    case SignMechanism::rsa_pss_sha256: return CKM_SHA256_RSA_PKCS_PSS;
    case SignMechanism::rsa_pkcs1_sha256: return CKM_SHA256_RSA_PKCS;
    case SignMechanism::eddsa: return CKM_EDDSA;
  }
  return CKM_ECDSA;
}

Bytes ec_params(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::ec_p256: return crypto::p256_params_der();
    case KeyAlgorithm::ec_p384: return crypto::p384_params_der();
    case KeyAlgorithm::ed25519: return kEd25519;
    default: fail(Category::usage, "not an elliptic-curve algorithm");
  }
}

PairTemplates provisional_transcript_key(const std::string& label, ByteView id) {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, true).set(CKA_PRIVATE, false).set(CKA_VERIFY, true)
      .set(CKA_ENCRYPT, false).set(CKA_WRAP, false).set(CKA_DERIVE, false)
      .set(CKA_EC_PARAMS, ByteView(crypto::p256_params_der()))
      .set(CKA_LABEL, std::string_view(label)).set(CKA_ID, id).set(CKA_MODIFIABLE, false);
  p.private_key.set(CKA_TOKEN, true).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, true);
  deny_private_usage(p.private_key);
  p.private_key.set_mechanisms({CKM_ECDSA}).set(CKA_LABEL, std::string_view(label))
      .set(CKA_ID, id).set(CKA_MODIFIABLE, false);
  return p;
}

Template master_wrap_key(const std::string& label, ByteView id, const Secret& value) {
  Template t = aes_key(true, label, id);
  t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false)
      .set(CKA_DERIVE, false).set(CKA_WRAP, true).set(CKA_UNWRAP, true)
      .set_mechanisms({CKM_AES_KEY_WRAP_PAD})
      .set_nested(CKA_UNWRAP_TEMPLATE, sealed_unwrap_template())
      .set(CKA_VALUE, value.bytes()).set(CKA_MODIFIABLE, false);
  return t;
}

Template master_derive_key(const std::string& label, ByteView id, const Secret& value,
                           KekDerivation derivation) {
  if (derivation == KekDerivation::hmac_sha256) {
    Template t = hmac_key(true, label, id);
    t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false).set(CKA_SIGN, true).set(CKA_VERIFY, false)
        .set(CKA_WRAP, false).set(CKA_UNWRAP, false).set(CKA_DERIVE, false)
        .set_mechanisms({CKM_SHA256_HMAC})
        .set(CKA_VALUE, value.bytes()).set(CKA_MODIFIABLE, false);
    return t;
  }
  Template t = aes_key(true, label, id);
  t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false)
      .set(CKA_WRAP, false).set(CKA_UNWRAP, false).set(CKA_DERIVE, true)
      .set_mechanisms({CKM_AES_ECB_ENCRYPT_DATA})
      .set(CKA_VALUE, value.bytes()).set(CKA_MODIFIABLE, false);
  return t;
}

Template quorum_session_key(const Secret& value) {
  Template t = aes_key(false, "", {});
  t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false)
      .set(CKA_DERIVE, false).set(CKA_WRAP, true).set(CKA_UNWRAP, true)
      .set_mechanisms({CKM_AES_KEY_WRAP_PAD})
      .set_nested(CKA_UNWRAP_TEMPLATE, sealed_unwrap_template())
      .set(CKA_VALUE, value.bytes()).set(CKA_MODIFIABLE, false);
  return t;
}

PairTemplates escrow_session_pair(KeyAlgorithm algorithm) {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, false).set(CKA_VERIFY, true);
  if (is_rsa(algorithm))
    p.public_key.set(CKA_MODULUS_BITS, rsa_bits(algorithm))
        .set(CKA_PUBLIC_EXPONENT, ByteView(Bytes{0x01, 0x00, 0x01}));
  else
    p.public_key.set(CKA_EC_PARAMS, ByteView(ec_params(algorithm)));
  p.private_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, true).set(CKA_SIGN, true);
  deny_private_usage(p.private_key);
  return p;
}

Template escrowed_token_private_key(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                                    const Mechanisms& mechanisms) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_PRIVATE_KEY}).set(CKA_KEY_TYPE, key_type(algorithm))
      .set(CKA_TOKEN, true).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, true);
  deny_private_usage(t);
  t.set_mechanisms(mechanism_types(mechanisms)).set(CKA_LABEL, std::string_view(label)).set(CKA_ID, id)
      .set(CKA_MODIFIABLE, false);
  return t;
}

Template escrowed_session_private_key(KeyAlgorithm algorithm, const Mechanisms& mechanisms) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_PRIVATE_KEY}).set(CKA_KEY_TYPE, key_type(algorithm))
      .set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, true);
  deny_private_usage(t);
  t.set_mechanisms(mechanism_types(mechanisms)).set(CKA_MODIFIABLE, false);
  return t;
}

Template token_public_key(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                          ByteView ec_point, ByteView modulus, ByteView exponent) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_PUBLIC_KEY}).set(CKA_KEY_TYPE, key_type(algorithm))
      .set(CKA_TOKEN, true).set(CKA_PRIVATE, false).set(CKA_VERIFY, true)
      .set(CKA_ENCRYPT, false).set(CKA_WRAP, false).set(CKA_DERIVE, false);
  if (is_rsa(algorithm))
    t.set(CKA_MODULUS, modulus).set(CKA_PUBLIC_EXPONENT, exponent);
  else
    t.set(CKA_EC_PARAMS, ByteView(ec_params(algorithm))).set(CKA_EC_POINT, ec_point);
  t.set(CKA_LABEL, std::string_view(label)).set(CKA_ID, id).set(CKA_MODIFIABLE, false);
  return t;
}

PairTemplates born_token_key_pair(KeyAlgorithm algorithm, const std::string& label, ByteView id,
                                  const Mechanisms& mechanisms) {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, true).set(CKA_PRIVATE, false).set(CKA_VERIFY, true)
      .set(CKA_ENCRYPT, false).set(CKA_WRAP, false).set(CKA_DERIVE, false);
  if (is_rsa(algorithm))
    p.public_key.set(CKA_MODULUS_BITS, rsa_bits(algorithm))
        .set(CKA_PUBLIC_EXPONENT, ByteView(Bytes{0x01, 0x00, 0x01}));
  else
    p.public_key.set(CKA_EC_PARAMS, ByteView(ec_params(algorithm)));
  p.public_key.set(CKA_LABEL, std::string_view(label)).set(CKA_ID, id).set(CKA_MODIFIABLE, false);
  p.private_key.set(CKA_TOKEN, true).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, true);
  deny_private_usage(p.private_key);
  p.private_key.set_mechanisms(mechanism_types(mechanisms)).set(CKA_LABEL, std::string_view(label))
      .set(CKA_ID, id).set(CKA_MODIFIABLE, false);
  return p;
}

PairTemplates transport_key_pair() {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, false).set(CKA_ENCRYPT, true)
      .set(CKA_WRAP, false).set(CKA_VERIFY, false).set(CKA_DERIVE, false)
      .set(CKA_MODULUS_BITS, rsa_bits(KeyAlgorithm::rsa3072))
      .set(CKA_PUBLIC_EXPONENT, ByteView(Bytes{0x01, 0x00, 0x01}));
  p.private_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_UNWRAP, true).set(CKA_DECRYPT, false)
      .set(CKA_SIGN, false).set(CKA_DERIVE, false).set_mechanisms({CKM_RSA_PKCS_OAEP})
      .set(CKA_MODIFIABLE, false);
  return p;
}

Template unwrapped_import(const Template& created, ByteView check_value) {
  Template t = created.without(CKA_VALUE).without(CKA_MODIFIABLE);
  if (!check_value.empty()) t.set(CKA_CHECK_VALUE, check_value);
  t.set(CKA_MODIFIABLE, false);
  return t;
}

Template wrap_proof_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false)
      .set(CKA_WRAP, false).set(CKA_UNWRAP, false).set(CKA_DERIVE, false)
      .set(CKA_MODIFIABLE, false);
  return t;
}

Template readable_derived_key() {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_AES})
      .set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, false)
      .set(CKA_EXTRACTABLE, true).set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, false)
      .set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false)
      .set(CKA_UNWRAP, false).set(CKA_DERIVE, false);
  return t;
}

Template user_kek() {
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, true).set(CKA_DECRYPT, true)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, false).set_mechanisms({CKM_AES_GCM}).set(CKA_MODIFIABLE, false);
  return t;
}

Template imported_session_key(const Template& derived, const Secret& value) {
  Template t = derived.without(CKA_VALUE_LEN).without(CKA_MODIFIABLE);
  t.set(CKA_VALUE, value.bytes()).set(CKA_MODIFIABLE, false);
  return t;
}

PairTemplates agreement_session_pair() {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, false).set(CKA_VERIFY, false)
      .set(CKA_DERIVE, false).set(CKA_EC_PARAMS, ByteView(crypto::p256_params_der()));
  p.private_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, true).set(CKA_SIGN, false).set(CKA_DECRYPT, false)
      .set(CKA_UNWRAP, false).set(CKA_DERIVE, true).set_mechanisms({CKM_ECDH1_DERIVE});
  return p;
}

Template agreement_session_private_key() {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_PRIVATE_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_EC})
      .set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, false).set(CKA_DECRYPT, false)
      .set(CKA_UNWRAP, false).set(CKA_DERIVE, true).set_mechanisms({CKM_ECDH1_DERIVE})
      .set(CKA_MODIFIABLE, false);
  return t;
}

PairTemplates ephemeral_agreement_pair() {
  PairTemplates p;
  p.public_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, false).set(CKA_VERIFY, false)
      .set(CKA_DERIVE, false).set(CKA_EC_PARAMS, ByteView(crypto::p256_params_der()));
  p.private_key.set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, false).set(CKA_SIGN, false).set(CKA_DECRYPT, false)
      .set(CKA_UNWRAP, false).set(CKA_DERIVE, true).set_mechanisms({CKM_ECDH1_DERIVE})
      .set(CKA_MODIFIABLE, false);
  return p;
}

Template agreed_secret(KekDerivation derivation) {
  if (derivation == KekDerivation::hmac_sha256) {
    Template t = hmac_key(false, "", {});
    t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false)
        .set(CKA_SIGN, true).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
        .set(CKA_DERIVE, false).set_mechanisms({CKM_SHA256_HMAC}).set(CKA_MODIFIABLE, false);
    return t;
  }
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, true).set_mechanisms({CKM_AES_ECB_ENCRYPT_DATA})
      .set(CKA_MODIFIABLE, false);
  return t;
}

Template group_layer_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, true).set(CKA_DECRYPT, true)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, false).set_mechanisms({CKM_AES_GCM}).set(CKA_MODIFIABLE, false);
  return t;
}

Template dek_unwrapping_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, true)
      .set(CKA_DERIVE, false).set_mechanisms({CKM_AES_KEY_WRAP}).set(CKA_MODIFIABLE, false);
  return t;
}

Template data_decryption_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_ENCRYPT, false).set(CKA_DECRYPT, true).set(CKA_SIGN, false).set(CKA_VERIFY, false)
      .set(CKA_WRAP, false).set(CKA_UNWRAP, false).set(CKA_DERIVE, false)
      .set_mechanisms({CKM_AES_GCM}).set(CKA_MODIFIABLE, false);
  return t;
}

Template opened_data_key() {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_AES})
      .set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, false)
      .set(CKA_EXTRACTABLE, true).set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, false).set(CKA_MODIFIABLE, false);
  return t;
}

Template rewrapped_data_key() {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_KEY_TYPE, CK_ULONG{CKK_AES})
      .set(CKA_TOKEN, false).set(CKA_PRIVATE, true).set(CKA_SENSITIVE, true)
      .set(CKA_EXTRACTABLE, true).set(CKA_WRAP_WITH_TRUSTED, false).set(CKA_ENCRYPT, false)
      .set(CKA_DECRYPT, false).set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false)
      .set(CKA_UNWRAP, false).set(CKA_DERIVE, false).set(CKA_MODIFIABLE, false);
  return t;
}

Template dek_wrapping_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, false).set(CKA_DECRYPT, false)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, true).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, false).set_mechanisms({CKM_AES_KEY_WRAP}).set(CKA_MODIFIABLE, false);
  return t;
}

Template otp_seal_key() {
  Template t = aes_key(false, "", {});
  t.set(CKA_VALUE_LEN, CK_ULONG{32}).set(CKA_ENCRYPT, true).set(CKA_DECRYPT, true)
      .set(CKA_SIGN, false).set(CKA_VERIFY, false).set(CKA_WRAP, false).set(CKA_UNWRAP, false)
      .set(CKA_DERIVE, false).set_mechanisms({CKM_AES_GCM}).set(CKA_MODIFIABLE, false);
  return t;
}

}  // namespace hsm::p11
