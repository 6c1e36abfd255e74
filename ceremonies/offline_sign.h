// Offline signing ceremonies: a file (raw signature) now; certificates, CSRs and CRLs through
// core/x509. Each signature is a transcript event with the digest of what was signed and of
// the output; outputs are written whole and never over an existing file.
#pragma once

#include <filesystem>
#include <string>

#include "ceremonies/shares.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct SignFileOptions {
  std::string key;
  std::filesystem::path in, out;
  std::string format = "raw";  // raw (cms: with a certificate, see sign cert)
  void validate() const;       // Error(usage) / Error(not_found): bad format, missing input, existing output
};

struct SignResult {
  std::string key, input_sha256, output_sha256;
  std::uint64_t seq = 0;
};

SignResult sign_file(Workspace& ws, const SignFileOptions& options, ShareIntake intake);

}  // namespace hsm
