// ECDH key agreement on the token (CKM_ECDH1_DERIVE), for sealing group-key layers to members.
// The agreed secret becomes a session key described by the caller's template; it never
// reaches the host.
#pragma once

#include "core/bytes.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/template.h"

namespace hsm::p11 {

// C_DeriveKey(private_key, CKM_ECDH1_DERIVE with CKD_NULL, peer_point) into a session key made
// from `t` (agreed_secret() in templates.h). `peer_point` is the peer's uncompressed point, bare
// (04||X||Y) or in its DER OCTET STRING (CKA_EC_POINT form); it is passed bare. SoftHSM 2.6.1
// refuses every KDF but CKD_NULL (CKR_MECHANISM_PARAM_INVALID: measured), so the caller derives
// the key it uses from this one.
SessionObject agree_key(const Session& s, KeyHandle private_key, ByteView peer_point, Template& t);

}  // namespace hsm::p11
