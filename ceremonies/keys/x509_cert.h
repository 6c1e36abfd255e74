// Offline certificate ceremonies: a self-signed root, a certificate issued from a CSR under a
// profile, and a CSR for an HSM key. core/x509 builds and verifies; the token signs; each
// artefact is a transcript event and is written as PEM, never over an existing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct SignCertOptions {
  std::string key;
  bool self_signed = false;
  std::string subject;                     // --self-signed only
  std::filesystem::path issuer_cert, csr;  // issued only
  std::filesystem::path out;
  int days = 0;
  std::string profile = "ca";  // ca, leaf, code
  std::optional<int> path_length;
  // Error(usage): not exactly one of --self-signed / --issuer-cert with --csr, a bad profile
  // or --days; Error(not_found): a missing input, an existing output.
  void validate() const;
};

struct SignCsrOptions {
  std::string key, subject;
  std::filesystem::path out;
  void validate() const;
};

// What was signed, for the terminal and --json (the transcript event has the same facts).
struct SignedArtefact {
  std::string key, subject, issuer;
  std::string serial;          // certificates: upper-case hex
  std::int64_t crl_number = 0;  // CRLs
  std::string not_before, not_after;  // RFC 3339 (certificates; CRLs: this/next update)
  std::string signed_sha256;   // the to-be-signed bytes the token signed
  std::string output_sha256;   // the file written
  std::uint64_t seq = 0;       // the transcript entry of the signature
};

SignedArtefact sign_certificate(Workspace& ws, const SignCertOptions& options, ShareIntake intake);
SignedArtefact sign_request(Workspace& ws, const SignCsrOptions& options, ShareIntake intake);

}  // namespace hsm
