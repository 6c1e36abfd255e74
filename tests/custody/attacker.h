// The attacker: someone who holds the token's user PIN and calls PKCS#11 directly (dlopen'd
// SoftHSM, raw C_* calls, none of hsmctl's code or templates). Every route out for a key that
// docs/design.md ("What a PIN holder can and cannot do") lists is one method here returning
// the CK_RV it got.
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

namespace hsm::custody {

struct Target {
  CK_OBJECT_HANDLE handle;
  std::string label;
  CK_OBJECT_CLASS cls;
  CK_KEY_TYPE key_type;
};

class Attacker {
 public:
  // Loads the module, logs in as the user on the token with this label.
  Attacker(const std::string& module, const std::string& token_label, const std::string& pin);
  ~Attacker();

  // Every private and secret key on the token whose label starts with `prefix`.
  std::vector<Target> keys(const std::string& prefix);

  CK_RV read_value(const Target& t);                       // C_GetAttributeValue(CKA_VALUE)
  CK_RV raise_flag(const Target& t, CK_ATTRIBUTE_TYPE a);  // C_SetAttributeValue(a=TRUE)
  CK_RV lower_sensitive(const Target& t);                  // C_SetAttributeValue(SENSITIVE=FALSE)
  CK_RV copy_weaker(const Target& t, CK_ATTRIBUTE_TYPE a, bool value);  // C_CopyObject
  CK_RV wrap_under_own_key(const Target& t);               // C_WrapKey(KWP, attacker AES)
  CK_RV wrap_under_own_rsa(const Target& t);               // C_WrapKey(RSA-OAEP, attacker RSA)
  // C_WrapKey of the attacker's own extractable key under `wrapper`, then C_UnwrapKey of that
  // blob under `wrapper` asking for an extractable, non-sensitive copy.
  CK_RV unwrap_extractable(const Target& wrapper, CK_RV* wrap_rv);
  // C_UnwrapKey of `blob` (an hsmctl escrow blob) under `wrapper` asking for an extractable,
  // non-sensitive EC private key.
  CK_RV unwrap_blob_extractable(const Target& wrapper, const std::vector<unsigned char>& blob);
  // The same with a template the wrapper accepts (sensitive, non-extractable): succeeds only if
  // the blob really was wrapped under `wrapper`.
  CK_RV unwrap_blob_sealed(const Target& wrapper, const std::vector<unsigned char>& blob);
  CK_FUNCTION_LIST* fn() const { return fn_; }
  CK_SESSION_HANDLE session() const { return session_; }

 private:
  CK_OBJECT_HANDLE own_aes_key();
  void* lib_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  CK_SESSION_HANDLE session_ = 0;
};

std::string rv_text(CK_RV rv);

}  // namespace hsm::custody
