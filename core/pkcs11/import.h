// Putting a secret key whose value the host holds onto the token (MK-wrap, MK-derive, QK, a KEK
// derived by HMAC): C_CreateObject with the frozen template from templates.h. The value comes
// from a Secret and is never kept beyond the call.
#pragma once

#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/template.h"

namespace hsm::p11 {

// Creates the secret key `t` describes (it holds CKA_VALUE).
KeyHandle import_secret_key(const Session& s, Template& t);

}  // namespace hsm::p11
