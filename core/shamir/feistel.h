// Passphrase encryption of the master secret (SLIP-0039 "Encryption of the master secret"): a
// four-round Feistel network with PBKDF2-HMAC-SHA256 as the round function. Never checks the
// passphrase: every passphrase decrypts to some master secret, by design.
#pragma once

#include <cstdint>

#include "core/secure/secret.h"
#include "core/shamir/share.h"

namespace hsm::slip39 {

// EMS = Encrypt(MS, P, e, id, ext). Throws Error(usage) for a master secret that is not an even
// number of bytes in 16..64, an iteration exponent above 15, an identifier above 15 bits, or a
// passphrase with characters outside printable ASCII (32..126), which the spec requires.
EncryptedMasterSecret encrypt_master_secret(const Secret& master_secret, const Secret& passphrase,
                                            std::uint16_t identifier, bool extendable,
                                            std::uint8_t iteration_exponent);

// MS = Decrypt(EMS, P, e, id, ext). Same checks as encryption.
Secret decrypt_ems(const EncryptedMasterSecret& ems, const Secret& passphrase);

}  // namespace hsm::slip39
