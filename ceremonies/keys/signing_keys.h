// Offline signing keys (`key generate`): escrowed at birth under MK-wrap and installed on the
// token frozen, or — quorum keys — escrowed under QK with no token object at all, so every use
// needs M custodian shares. Ed25519 (SoftHSM cannot wrap EdDSA keys) only with --no-backup,
// born non-extractable on the token.
#pragma once

#include <memory>
#include <string>

#include "ceremonies/recorder.h"
#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"
#include "core/keystore/records.h"
#include "core/pkcs11/keys.h"

namespace hsm {

struct SigningAlgorithm {
  std::string name;  // ec-p256, ec-p384, ed25519, rsa-3072, rsa-4096
  p11::KeyAlgorithm algorithm;
  p11::SignMechanism mechanism;
};
// Throws Error(usage) listing the valid names.
const SigningAlgorithm& signing_algorithm(const std::string& name);

struct KeyGenerateOptions {
  std::string label;
  std::string algorithm = "ec-p256";
  std::string purpose = "generic";  // ca, code, generic
  int quorum = 0;  // 0: not a quorum key; else must equal the master share set's threshold
  bool no_backup = false;
  void validate() const;
};

// Error(usage) when --quorum is not the master share set's threshold (the number of shares that
// recombine the master secret, and so QK: the only number that can be enforced).
keystore::KeyRecord generate_signing_key(Workspace& ws, const KeyGenerateOptions& options,
                                         ShareIntake intake);

// The token object label of an hsmctl signing key.
std::string token_label(const std::string& label);

// A signing key opened for one ceremony. Quorum keys gather the shares on open and exist only
// as session objects until this object dies.
class OpenSigningKey {
 public:
  OpenSigningKey(Workspace& ws, Recorder& rec, const std::string& label, ShareIntake intake);
  ~OpenSigningKey();
  OpenSigningKey(const OpenSigningKey&) = delete;
  OpenSigningKey& operator=(const OpenSigningKey&) = delete;

  // The signature over `data` in its standard encoding: DER ECDSA-Sig-Value for ECDSA, raw for
  // RSA-PSS and Ed25519.
  Bytes sign(ByteView data);
  const keystore::KeyRecord& record() const { return record_; }
  const SigningAlgorithm& algorithm() const { return *algorithm_; }

 private:
  Workspace& ws_;
  keystore::KeyRecord record_;
  const SigningAlgorithm* algorithm_;
  p11::KeyHandle key_ = 0;
  std::vector<p11::KeyHandle> session_objects_;
};

}  // namespace hsm
