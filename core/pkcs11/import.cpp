// Importing secret keys with frozen templates (see import.h).
#include "core/pkcs11/import.h"

#include <algorithm>

#include "core/crypto/host_seal.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/rv.h"
#include "core/pkcs11/templates.h"

namespace hsm::p11 {

namespace {

// The key value a C_CreateObject template carries, in locked memory.
Secret value_of(const Template& t) {
  const auto& attrs = t.attributes();
  const auto it = std::find_if(attrs.begin(), attrs.end(),
                               [](const CK_ATTRIBUTE& a) { return a.type == CKA_VALUE; });
  if (it == attrs.end() || it->pValue == nullptr)
    fail(Category::general, "internal error: a key import template without CKA_VALUE");
  Secret out(it->ulValueLen);
  std::copy_n(static_cast<const std::uint8_t*>(it->pValue), it->ulValueLen, out.data());
  return out;
}

KeyHandle unwrap_oaep(const Session& s, KeyHandle transport, ByteView blob, bool sha1,
                      Template& t) {
  CK_RSA_PKCS_OAEP_PARAMS p{sha1 ? CKM_SHA_1 : CKM_SHA256, sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256,
                            CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m{CKM_RSA_PKCS_OAEP, &p, sizeof p};
  KeyHandle h = 0;
  check(s.fn()->C_UnwrapKey(s.handle(), &m, transport, const_cast<std::uint8_t*>(blob.data()),
                            blob.size(), t.data(), t.size(), &h),
        "unwrapping a key under the transport key (CKM_RSA_PKCS_OAEP)");
  return h;
}

// The answers of a token that takes no secret key in plaintext (nShield's CKR_TEMPLATE_
// INCONSISTENT, tpm2-pkcs11's CKR_ATTRIBUTE_VALUE_INVALID, and the codes PKCS#11 gives for a
// function or action the token does not allow).
bool refuses_import(CK_RV rv) {
  return rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
         rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_ACTION_PROHIBITED ||
         rv == CKR_ATTRIBUTE_READ_ONLY;
}

}  // namespace

KeyHandle import_by_unwrap(const Session& s, const Template& t) {
  const Secret value = value_of(t);
  // No CKA_CHECK_VALUE in the template: SoftHSM refuses it on unwrap (CKR_ATTRIBUTE_READ_ONLY)
  // and computes none; import_master_keys proves MK-wrap's value another way.
  Template target = unwrapped_import(t, {});
  PairTemplates pt = transport_key_pair();
  const KeyPair pair = generate_pair(s, KeyAlgorithm::rsa3072, pt);
  const SessionObject pub(s, pair.public_key), priv(s, pair.private_key);
  const Bytes spki = public_key_spki(s, pub.handle(), KeyAlgorithm::rsa3072);
  // OAEP with SHA-256 first; SoftHSM 2.6 unwraps only with SHA-1 (CKR_ARGUMENTS_BAD otherwise),
  // which is as sound here: OAEP's hash is not what its security rests on.
  try {
    return unwrap_oaep(s, priv.handle(), crypto::rsa_oaep_encrypt(spki, value, false), false,
                       target);
  } catch (const TokenError& e) {
    if (e.rv() != CKR_ARGUMENTS_BAD && e.rv() != CKR_MECHANISM_PARAM_INVALID) throw;
  }
  return unwrap_oaep(s, priv.handle(), crypto::rsa_oaep_encrypt(spki, value, true), true, target);
}

Imported import_secret_key_by(const Session& s, Template& t) {
  KeyHandle h = 0;
  const CK_RV rv = s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h);
  if (rv == CKR_OK) return {h, ImportRoute::create_object};
  // Only a refusal of the import itself leads to the unwrap route; a device error, a lost
  // session or anything else fails as it is (the fault loop, tests/e2e/fault_loop_test.cpp).
  if (!refuses_import(rv)) check(rv, "creating a key object");
  try {
    return {import_by_unwrap(s, t), ImportRoute::unwrap};
  } catch (const Error& unwrap) {
    try {
      check(rv, "creating a key object");
    } catch (const TokenError& e) {
      throw TokenError(e.category(), std::string(e.what()) + "; importing it by unwrapping "
                       "under a token-made RSA transport key failed too: " + unwrap.what(),
                       e.rv());
    }
  }
  return {};
}

}  // namespace hsm::p11
