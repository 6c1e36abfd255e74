// user sign: the user's factors open the outer layer, the inner blob is unwrapped under MK-wrap
// as a sensitive, non-extractable session key, the file is signed, the key destroyed. Every
// signature is a transcript event (file and signature digests) written before the signature
// file appears; the output never replaces an existing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ceremonies/keys/file_signature.h"
#include "core/bytes.h"
#include "core/pkcs11/session.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct UserSignOptions {
  std::string name;
  std::filesystem::path in, out;
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  // Error(usage) for a malformed name or a missing --in/--out; Error(not_found) when --in does
  // not exist or --out already does.
  void validate() const;
};

struct UserSignature : FileSignature {  // seq: of user.signed
  std::string name;
};

UserSignature user_sign(Workspace& ws, const UserSignOptions& options);

// What a user's key is asked to sign: the message itself, or a digest made elsewhere with the
// hash of the user's algorithm (ECDSA keys only).
enum class SignedForm { data, digest };

// The one signature step of `user sign` and `hsmctl serve`: the inner blob becomes a session
// key for one signature (sensitive, non-extractable, this one mechanism), destroyed before
// returning. ECDSA signatures come back DER-encoded. A digest for a key that cannot sign one,
// or of the wrong length, is Error(usage).
Bytes sign_as_user(const p11::Session& s, const MasterKeys& mk, const UnlockedUser& u,
                   ByteView input, SignedForm form);
// The digest a user's key signs for SignedForm::digest: "sha256" or "sha384", or "" when it
// signs data only (RSA-PSS, Ed25519).
std::string_view user_digest_alg(const std::string& algorithm);

}  // namespace hsm
