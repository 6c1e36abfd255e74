// Putting a secret key whose value the host holds onto the token (MK-wrap, MK-derive, QK, a KEK
// derived by HMAC) with the frozen template from templates.h: C_CreateObject, or, where the
// token refuses key material in plaintext (C_CreateObject of secret keys), C_UnwrapKey of the
// value RSA-OAEP-encrypted on the host to a transport pair the token generated for this one key
// and destroyed after. Either way the object has exactly the template's attributes; the value
// comes from the template and is never kept beyond the call.
#pragma once

#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/template.h"

namespace hsm::p11 {

enum class ImportRoute { create_object, unwrap };

struct Imported {
  KeyHandle handle = 0;
  ImportRoute route = ImportRoute::create_object;
};

// Creates the secret key `t` describes (it holds CKA_VALUE): C_CreateObject, or on its refusal
// the unwrap route. When both fail, the C_CreateObject error is thrown, naming the unwrap
// route's failure too.
Imported import_secret_key_by(const Session& s, Template& t);
inline KeyHandle import_secret_key(const Session& s, Template& t) {
  return import_secret_key_by(s, t).handle;
}
// The unwrap route alone (also what the test of the identical attributes runs).
KeyHandle import_by_unwrap(const Session& s, const Template& t);

}  // namespace hsm::p11
