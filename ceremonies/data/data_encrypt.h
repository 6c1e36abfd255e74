// data encrypt and dek new: encryption to an encryption group needs no token, no PIN and no
// password (docs/design.md, "Group data keys"): the group's current public key is read from the
// keystore (checked against the transcript's state record, so a swapped key is refused), a
// fresh DEK is wrapped to it on the host, and the file is encrypted on the host in chunks
// (hsmctl-data(5)), streamed, into a temp file that appears under --out only when whole.
// Records nothing (there is no token to sign with); never writes a DEK to disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ceremonies/workspace.h"
#include "core/crypto/dek_envelope.h"

namespace hsm {

struct DataEncryptOptions {
  std::string group;
  std::filesystem::path in, out;
  std::vector<std::string> context;  // KEY=VALUE
  // Error(usage): malformed group name or context; Error(not_found): --in missing or --out
  // existing.
  void validate() const;
};

struct DataEncryption {
  std::string group, dek_id;
  std::int64_t key_version = 0;
  std::uint64_t bytes = 0, chunks = 0;
  crypto::DekContext context;
};

DataEncryption data_encrypt(Workspace& ws, const DataEncryptOptions& options);

struct DekNewOptions {
  std::string group;
  std::filesystem::path out;
  std::vector<std::string> context;
  void validate() const;
};

struct DekNew {
  crypto::DekEnvelope envelope;
  Secret dek;  // for the caller to hand to the application: never stored
};

// Writes the envelope (JSON, hsmctl-data(5)) to --out and returns it with the DEK.
DekNew dek_new(Workspace& ws, const DekNewOptions& options);
// The same without a file (`hsmctl serve`, POST /v1/groups/{name}/deks): Error(usage) for a
// malformed group name or context pair (KEY=VALUE).
DekNew dek_new_envelope(Workspace& ws, const std::string& group,
                        const std::vector<std::string>& context);

// The group (Error(not_found)), an encryption group (Error(usage)), its row as the transcript
// recorded it (Error(integrity)).
keystore::GroupRecord encryption_group(Workspace& ws, const std::string& name);

}  // namespace hsm
