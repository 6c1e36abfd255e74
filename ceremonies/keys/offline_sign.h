// sign file: a detached signature of a file with an HSM key, raw (the signature alone) or CMS
// (SignedData with the signer's certificate, for `openssl cms -verify`). Each signature is a
// transcript event with the digest of what was signed and of the output; outputs are written
// whole and never over an existing file. Certificates, CSRs and CRLs: x509_cert.h, x509_crl.h.
#pragma once

#include <filesystem>
#include <string>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct SignFileOptions {
  std::string key;
  std::filesystem::path in, out;
  std::string format = "raw";  // raw or cms
  std::filesystem::path cert;  // cms: the signing key's certificate (PEM or DER)
  // Error(usage): bad format, cms without --cert or raw with it; Error(not_found): a missing
  // input or certificate, an existing output.
  void validate() const;
};

struct SignResult {
  std::string key, input_sha256, output_sha256;
  std::uint64_t seq = 0;
};

SignResult sign_file(Workspace& ws, const SignFileOptions& options, ShareIntake intake);

}  // namespace hsm
