// C_DeriveKey with CKM_ECDH1_DERIVE (no KDF).
#include "core/pkcs11/agree.h"

#include "core/error.h"
#include "core/pkcs11/rv.h"

namespace hsm::p11 {

SessionObject agree_key(const Session& s, KeyHandle private_key, ByteView peer_point, Template& t) {
  ByteView point = peer_point;
  // An OCTET STRING of a 65-byte P-256 point: 04 41 04 X Y.
  if (point.size() == 67 && point[0] == 0x04 && point[1] == 0x41) point = point.subspan(2);
  if (point.size() != 65 || point[0] != 0x04)
    fail(Category::integrity, "a stored key-agreement public key is not an uncompressed P-256 "
                              "point: the keystore was changed");
  CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(),
                           const_cast<std::uint8_t*>(point.data())};
  CK_MECHANISM m{CKM_ECDH1_DERIVE, &p, sizeof p};
  KeyHandle h = 0;
  check(s.fn()->C_DeriveKey(s.handle(), &m, private_key, t.data(), t.size(), &h),
        "agreeing a key (ECDH)");
  return SessionObject(s, h);
}

}  // namespace hsm::p11
