// sign crl: a v2 CRL from an HSM key, listing every certificate the key has revoked so far
// (kept in the keystore, so each CRL repeats the earlier revocations with their dates) under a
// CRL number that the keystore only ever increases. Never writes over an existing file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"
#include "ceremonies/keys/x509_cert.h"

namespace hsm {

struct SignCrlOptions {
  std::string key;
  std::filesystem::path issuer_cert, out;
  std::vector<std::string> revoke;  // "SERIAL" or "SERIAL:reason", newly revoked by this CRL
  int next_update_days = 0;
  // Error(usage): a malformed or repeated --revoke, --next-update out of range;
  // Error(not_found): a missing issuer certificate, an existing output.
  void validate() const;
};

// The artefact's crl_number, not_before (thisUpdate) and not_after (nextUpdate) are set.
SignedArtefact sign_crl(Workspace& ws, const SignCrlOptions& options, ShareIntake intake);

}  // namespace hsm
