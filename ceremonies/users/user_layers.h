// The two layers of a user key and the sealed TOTP seed, in one place (docs/design.md "Key
// hierarchy", user keys): inner = the private key wrapped under MK-wrap at birth; outer =
// AES-256-GCM of the inner blob by the token under the user KEK = C_DeriveKey(MK-derive,
// Argon2id(password, salt)), with AAD binding name, algorithm and key version. Never stores,
// logs or prints anything; whatever opens a key comes back in a Secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ceremonies/master/master_keys.h"
#include "core/bytes.h"
#include "core/kdf/argon2id.h"
#include "core/keystore/records.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/keys.h"
#include "core/secure/secret.h"

namespace hsm {

// The issuer shown by authenticator apps for hsmctl's TOTP seeds.
inline constexpr const char* kOtpIssuer = "hsmctl";

// A user key algorithm: its name in the keystore and on the command line, the token key type,
// the signature it makes and that signature's name in the transcript.
struct UserAlgorithm {
  std::string_view name;  // "p256", "p384", "rsa3072", "ed25519"
  p11::KeyAlgorithm key;
  p11::SignMechanism mechanism;
  std::string_view signature;  // "ecdsa-p256-sha256", ...
};

// Error(usage) naming the valid algorithms for anything else.
const UserAlgorithm& user_algorithm(std::string_view name);

// 1-64 of [A-Za-z0-9._@-], not starting with '.', '-' or '@' (never '|' or ':', which the AAD
// and the otpauth label use as separators).
bool valid_user_name(std::string_view name);

// MK-wrap and MK-derive on this token, or Error(not_found) saying to run master init/restore.
MasterKeys require_master(const p11::Session& s);

// A fresh salt and the Argon2id costs of `profile`.
keystore::KdfParams new_kdf(kdf::KdfProfile profile);

// A password stretched by Argon2id ahead of the token work (the signing service does it before
// it takes the workspace lock, so that workers do not take turns at the KDF): valid only for
// exactly these KDF parameters (salt and costs).
struct StretchedPassword {
  keystore::KdfParams kdf;
  Secret material;
};
// Argon2id of `password` at `kdf`, after the checks derive_user_kek makes of stored fields.
StretchedPassword stretch_password(std::string_view name, const Secret& password,
                                   const keystore::KdfParams& kdf);

// The KEK of user `name` as a session key (AES-256, GCM only, sensitive, non-extractable).
// Stored KDF fields that hsmctl could not have written (salt length, costs beyond the
// `sensitive` profile) are Error(integrity). `pre`, when it was stretched at exactly `kdf`,
// saves the Argon2id run.
p11::SessionObject derive_user_kek(const p11::Session& s, p11::KeyHandle mk_derive,
                                   std::string_view name, const Secret& password,
                                   const keystore::KdfParams& kdf,
                                   const StretchedPassword* pre = nullptr);

// A fresh 12-byte AES-GCM nonce (host CSPRNG).
Bytes new_gcm_nonce();

// "hsmctl v1 user|" + name + "|" + algorithm + "|" + key_version.
Bytes outer_aad(std::string_view name, std::string_view algorithm, std::int64_t key_version);

// Seals `inner` under the KEK with a fresh 12-byte nonce (new_gcm_nonce).
keystore::SealedBlob seal_outer(const p11::Session& s, const p11::SessionObject& kek, std::string_view name,
                                std::string_view algorithm, std::int64_t key_version,
                                ByteView inner);
// The inner blob, or nullopt when the outer layer does not open: a wrong password, or a
// changed blob, nonce, salt, KDF cost, name, algorithm or key version.
std::optional<Secret> open_outer(const p11::Session& s, const p11::SessionObject& kek,
                                 const keystore::UserRecord& user);

// A TOTP seed sealed under a session key derived from MK-derive with SHA-256("hsmctl v1 otp|"
// + name). This keeps the seed from whoever holds the keystore without the token; a PIN
// holder can open it (docs/design.md, and hsmctl(1) says so).
keystore::SealedBlob seal_otp_seed(const p11::Session& s, p11::KeyHandle mk_derive,
                                   std::string_view name, const Secret& seed);
// Error(integrity) when the sealed seed does not open.
Secret open_otp_seed(const p11::Session& s, p11::KeyHandle mk_derive, std::string_view name,
                     const keystore::SealedBlob& sealed);

}  // namespace hsm
