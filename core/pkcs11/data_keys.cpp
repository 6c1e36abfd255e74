// C_UnwrapKey and C_WrapKey with CKM_AES_KEY_WRAP, C_Decrypt with CKM_AES_GCM into a caller's buffer, and
// C_GetAttributeValue(CKA_VALUE) into a Secret.
#include "core/pkcs11/data_keys.h"

#include "core/error.h"
#include "core/pkcs11/rv.h"

namespace hsm::p11 {

SessionObject unwrap_data_key(const Session& s, KeyHandle kek, ByteView wrapped, Template& t) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP, nullptr, 0};
  KeyHandle h = 0;
  const CK_RV rv = s.fn()->C_UnwrapKey(s.handle(), &m, kek, const_cast<std::uint8_t*>(wrapped.data()),
                                       wrapped.size(), t.data(), t.size(), &h);
  switch (rv) {
    case CKR_OK: return SessionObject(s, h);
    // SoftHSM answers CKR_GENERAL_ERROR when the RFC 3394 integrity check fails.
    case CKR_GENERAL_ERROR:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
      throw TokenError(Category::integrity,
                       "the wrapped DEK does not unwrap: its wrapped key, context, group, key "
                       "version or one-use key was changed", rv);
    default: check(rv, "unwrapping a DEK");
  }
  return SessionObject(s, 0);
}

Bytes wrap_data_key(const Session& s, KeyHandle kek, KeyHandle dek) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP, nullptr, 0};
  Bytes out(40);  // a 32-byte key and the RFC 3394 integrity block: public ciphertext
  CK_ULONG len = out.size();
  check(s.fn()->C_WrapKey(s.handle(), &m, kek, dek, out.data(), &len), "wrapping a DEK");
  if (len != out.size()) fail(Category::token, "the token wrapped a DEK to the wrong length");
  return out;
}

bool gcm_decrypt_into(const Session& s, KeyHandle key, ByteView nonce, ByteView aad,
                      ByteView sealed, Bytes& out) {
  if (sealed.size() < kGcmTagSize) return false;
  out.resize(sealed.size());
  const std::optional<std::size_t> len = gcm_decrypt_to(s, key, nonce, aad, sealed, out);
  if (!len) {
    out.clear();
    return false;
  }
  out.resize(*len);
  return true;
}

Secret secret_key_value(const Session& s, KeyHandle key, std::size_t size) {
  Secret out(size);
  CK_ATTRIBUTE a{CKA_VALUE, out.data(), out.size()};
  check(s.fn()->C_GetAttributeValue(s.handle(), key, &a, 1), "reading a DEK's value");
  if (a.ulValueLen != size)
    fail(Category::token, "the token returned a DEK of the wrong length");
  return out;
}

}  // namespace hsm::p11
