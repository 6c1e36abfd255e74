// The token side of group data keys (docs/design.md, "Group data keys"): with a group key a
// member has unlocked (unlock_group_key), the DEK of an envelope is unwrapped inside the token.
// The group's ECDH private key is a session copy for one agreement, the agreed secret Z and the
// KEK derived from it are sensitive session keys, and every one is destroyed before this
// returns; what the DEK becomes is the caller's template (data_decryption_key or
// opened_data_key). Never sees a DEK on the host, except through opened_data_key.
#pragma once

#include <filesystem>

#include "ceremonies/groups/group_keys.h"
#include "core/crypto/dek_envelope.h"
#include "core/pkcs11/crypt.h"

namespace hsm {

struct EnvelopeFile {
  crypto::DekEnvelope envelope;
  bool data_file = false;  // a file of data encrypt (its header), not a DEK file of dek new
};

// The envelope of a DEK file (JSON of dek new or dek rewrap) or of a data file (its header):
// Error(not_found) for a missing file, Error(integrity) for anything else.
EnvelopeFile read_envelope_file(const std::filesystem::path& path);

// Error(integrity) when the envelope names another group or key version than `g` holds, its
// one-use key is not a P-256 point, or the DEK does not unwrap (anything bound into the KEK was
// changed, or the layer holds another key than the group's).
p11::SessionObject unwrap_dek(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g,
                              const crypto::DekEnvelope& e, p11::Template& dek_template);

// Checks that the key in a member's layer is the group's: a DEK wrapped on the host to the
// group's public key unwraps with it. Error(integrity) naming the group otherwise.
void check_encryption_key(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g);

}  // namespace hsm
