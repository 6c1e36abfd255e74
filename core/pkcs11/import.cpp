// Importing secret keys with frozen templates (see import.h).
#include "core/pkcs11/import.h"

namespace hsm::p11 {

KeyHandle import_secret_key(const Session& s, Template& t) { return create_object(s, t); }

}  // namespace hsm::p11
