// data decrypt and dek open: a member of an encryption group, with their own factors (password,
// and a one-time code once enrolled), opens their layer of the group key; the DEK is unwrapped
// inside the token (ceremonies/data/dek_unwrap.h). data decrypt then has the token decrypt each
// chunk with the DEK as a sensitive, non-extractable session key, into a temp file that appears
// under --out only once the final chunk authenticated and data.decrypted is recorded. dek open
// unwraps the DEK as a non-sensitive session key, reads its value and destroys it: the DEK
// leaves the HSM boundary, recorded as dek.opened. Neither event holds a DEK or plaintext.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"
#include "core/crypto/dek_envelope.h"

namespace hsm {

struct DataDecryptOptions {
  std::string as;
  std::filesystem::path in, out;  // out: empty for dek open
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  // dek open through `hsmctl serve`: the envelope from the request instead of --in, and the
  // client certificate's fingerprint, recorded in dek.opened.
  std::optional<crypto::DekEnvelope> envelope;
  std::string client;
  // Error(usage): malformed user name; Error(not_found): --in missing or --out existing.
  void validate() const;
};

struct DataDecryption {
  crypto::DekEnvelope envelope;
  std::uint64_t bytes = 0, chunks = 0;
  std::uint64_t seq = 0;  // of data.decrypted
};

DataDecryption data_decrypt(Workspace& ws, const DataDecryptOptions& options);

struct DekOpened {
  crypto::DekEnvelope envelope;
  Secret dek;
  std::uint64_t seq = 0;  // of dek.opened
};

// --in is a DEK file of dek new or a data file of data encrypt (its header).
DekOpened dek_open(Workspace& ws, const DataDecryptOptions& options);

}  // namespace hsm
