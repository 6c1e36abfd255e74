// Token operations for group data keys: a DEK unwrapped with AES key wrap (RFC 3394) under a
// KEK derived on the token (and wrapped again under another, for dek rewrap), AES-GCM decryption of one chunk into a caller's buffer, and the
// value of an opened (non-sensitive) DEK read into a Secret. Templates come from templates.h.
// Never logs or keeps what it decrypts or reads.
#pragma once

#include "core/bytes.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/template.h"
#include "core/secure/secret.h"

namespace hsm::p11 {

// C_UnwrapKey(CKM_AES_KEY_WRAP) of `wrapped` under `kek` into a session key made from `t`.
// Error(integrity) when the wrap's integrity check fails (another key, context or version).
SessionObject unwrap_data_key(const Session& s, KeyHandle kek, ByteView wrapped, Template& t);

// C_WrapKey(CKM_AES_KEY_WRAP) of the 32-byte key `dek` under `kek`: the 40-byte RFC 3394 wrap.
Bytes wrap_data_key(const Session& s, KeyHandle kek, KeyHandle dek);

// AES-GCM decryption of `sealed` (ciphertext || 16-byte tag) by the token into `out` (resized
// to the plaintext). false when it does not authenticate under this key, nonce and AAD.
bool gcm_decrypt_into(const Session& s, KeyHandle key, ByteView nonce, ByteView aad,
                      ByteView sealed, Bytes& out);

// CKA_VALUE of a non-sensitive secret key of `size` bytes, in a Secret.
Secret secret_key_value(const Session& s, KeyHandle key, std::size_t size);

}  // namespace hsm::p11
