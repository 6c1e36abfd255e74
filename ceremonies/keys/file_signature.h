// What user sign and group sign share: the checks on --in and --out before any token work, and
// the facts of one signature over a file, recorded before the signature file is written (a
// signature that is not in the transcript did not come from hsmctl).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ceremonies/recorder.h"
#include "core/bytes.h"

namespace hsm {

struct FileSignature {
  std::string algorithm, signature_alg, fingerprint, file_sha256, signature_sha256;
  std::int64_t key_version = 0;
  std::uint64_t seq = 0;  // transcript seq of the signed event
};

// Error(usage) for a missing --in or --out; Error(not_found) when --in does not exist, --out
// already does, or the directory for --out does not.
void check_sign_files(const std::filesystem::path& in, const std::filesystem::path& out);

// Records `event` with the `signer` members (who signed) and the key's and the file's facts,
// then writes `signature` to `out` (mode 0644), both through Recorder::record_output.
FileSignature record_file_signature(Recorder& rec, const std::string& event,
                                    const nlohmann::json& signer, const std::string& algorithm,
                                    std::string_view signature_alg, std::int64_t key_version,
                                    ByteView public_key, const std::filesystem::path& in,
                                    ByteView data, const std::filesystem::path& out,
                                    ByteView signature);

}  // namespace hsm
