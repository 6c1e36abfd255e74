// dek rewrap: a member moves a wrapped DEK (a DEK file of dek new) to the group's current key
// version without the DEK leaving the token (docs/design.md, "Group data keys"). The member's
// layer of the old version opens the old private key (a session object, non-extractable); the
// DEK is unwrapped as a sensitive session key whose only possible use is being wrapped; a
// one-use ECDH pair is made on the token, agreed with the group's current public key, and the
// new KEK derived exactly as the host derives it for dek new (same DEK id and context); the
// token wraps the DEK under it (RFC 3394). Every session object is destroyed before this
// returns. Data files are refused: their header is bound into every chunk's AAD, so moving one
// means decrypting and encrypting it again (data decrypt | data encrypt).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "ceremonies/data/data_decrypt.h"

namespace hsm {

struct DekRewrapped {
  crypto::DekEnvelope from, to;  // same DEK id and context; new version and one-use key
  std::uint64_t seq = 0;        // of dek.rewrapped
};

// options.out is the new DEK file (never overwritten). Error(usage): a data file, or a DEK
// already wrapped to the current version; Error(not_found): a retired version (exit 7); the
// rest as dek open.
DekRewrapped dek_rewrap(Workspace& ws, const DataDecryptOptions& options);

}  // namespace hsm
