// User key layers: algorithms, names, KEK derivation, outer seal/open, OTP seed seal/open.
#include "ceremonies/users/user_layers.h"

#include <fmt/format.h>
#include <sodium.h>

#include <array>

#include "core/crypto/algorithm_names.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/templates.h"

namespace hsm {

namespace {

using p11::KeyAlgorithm;
using p11::SignMechanism;

constexpr std::array<UserAlgorithm, 4> kAlgorithms{{
    {"p256", KeyAlgorithm::ec_p256, SignMechanism::ecdsa_sha256, "ecdsa-p256-sha256"},
    {"p384", KeyAlgorithm::ec_p384, SignMechanism::ecdsa_sha384, "ecdsa-p384-sha384"},
    {"rsa3072", KeyAlgorithm::rsa3072, SignMechanism::rsa_pss_sha256, "rsa-pss-sha256"},
    {"ed25519", KeyAlgorithm::ed25519, SignMechanism::eddsa, "ed25519"},
}};

Bytes otp_aad(std::string_view name) { return to_bytes(fmt::format("hsmctl v1 otp|{}", name)); }

p11::SessionObject derive_otp_key(const p11::Session& s, p11::KeyHandle mk_derive,
                                  std::string_view name) {
  const Bytes data = crypto::sha256(otp_aad(name));  // public: the key is secret only off-token
  p11::Template t = p11::otp_seal_key();
  return p11::derive_session_key(s, mk_derive, data, t);
}

}  // namespace

const UserAlgorithm& user_algorithm(std::string_view name) {
  const std::string_view stored = short_algorithm(name).value_or(name);  // either spelling
  for (const auto& a : kAlgorithms)
    if (a.name == stored) return a;
  fail(Category::usage, fmt::format("unknown user key algorithm '{}'; use ec-p256, ec-p384, "
                                    "rsa-3072 or ed25519", name));
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-' || name[0] == '@')
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '@')
      return false;
  return true;
}

MasterKeys require_master(const p11::Session& s) {
  auto mk = find_master_keys(s);
  if (!mk)
    fail(Category::not_found, "this token holds no master key (MK-wrap and MK-derive); run "
                              "'hsmctl master init' or 'hsmctl master restore' first");
  return *mk;
}

keystore::KdfParams new_kdf(kdf::KdfProfile profile) {
  const kdf::KdfParams p = kdf::kdf_params(profile);
  return {std::string(kdf::kdf_profile_name(profile)), kdf::new_salt(), p.opslimit, p.memlimit};
}

StretchedPassword stretch_password(std::string_view name, const Secret& password,
                                   const keystore::KdfParams& k) {
  const kdf::KdfParams lo = kdf::kdf_params(kdf::KdfProfile::min);
  const kdf::KdfParams hi = kdf::kdf_params(kdf::KdfProfile::sensitive);
  if (k.salt.size() != kdf::kSaltSize)
    fail(Category::integrity, fmt::format("the stored password salt of user '{}' is {} bytes, "
                                          "not {}: the keystore was changed", name, k.salt.size(),
                                          kdf::kSaltSize));
  if (k.opslimit < lo.opslimit || k.opslimit > hi.opslimit || k.memlimit < lo.memlimit ||
      k.memlimit > hi.memlimit)
    fail(Category::integrity, fmt::format("the stored Argon2id costs of user '{}' (opslimit {}, "
                                          "memlimit {}) are outside every KDF profile: the "
                                          "keystore was changed", name, k.opslimit, k.memlimit));
  return {k, kdf::derive_password_key(password, k.salt, {k.opslimit, k.memlimit}, 32)};
}

p11::SessionObject derive_user_kek(const p11::Session& s, p11::KeyHandle mk_derive,
                                   std::string_view name, const Secret& password,
                                   const keystore::KdfParams& k, const StretchedPassword* pre) {
  std::optional<StretchedPassword> now;
  if (pre == nullptr || !(pre->kdf == k)) now = stretch_password(name, password, k);
  const Secret& material = now ? now->material : pre->material;
  p11::Template t = p11::user_kek();
  return p11::derive_session_key(s, mk_derive, material.bytes(), t);
}

Bytes new_gcm_nonce() {
  // From the host's CSPRNG (getrandom): a nonce is public and only has to be unique under its
  // key, and every key sealed here is fresh or rarely used. The token RNG call it replaces cost
  // SoftHSM a dozen OpenSSL fork checks per user in batch provisioning.
  Bytes nonce(p11::kGcmNonceSize);
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

Bytes outer_aad(std::string_view name, std::string_view algorithm, std::int64_t key_version) {
  return to_bytes(fmt::format("hsmctl v1 user|{}|{}|{}", name, algorithm, key_version));
}

keystore::SealedBlob seal_outer(const p11::Session& s, const p11::SessionObject& kek, std::string_view name,
                                std::string_view algorithm, std::int64_t key_version,
                                ByteView inner) {
  keystore::SealedBlob out;
  out.nonce = new_gcm_nonce();
  out.ciphertext = p11::gcm_seal(s, kek, out.nonce, outer_aad(name, algorithm, key_version), inner);
  return out;
}

std::optional<Secret> open_outer(const p11::Session& s, const p11::SessionObject& kek,
                                 const keystore::UserRecord& u) {
  const keystore::SealedBlob& b = u.secrets.signing_key;
  if (b.nonce.size() != p11::kGcmNonceSize || b.ciphertext.size() <= p11::kGcmTagSize)
    fail(Category::integrity, fmt::format("the stored key of user '{}' is malformed (nonce {} "
                                          "bytes, blob {} bytes): the keystore was changed",
                                          u.name, b.nonce.size(), b.ciphertext.size()));
  return p11::gcm_open(s, kek, b.nonce, outer_aad(u.name, u.algorithm, u.secrets.key_version),
                       b.ciphertext);
}

keystore::SealedBlob seal_otp_seed(const p11::Session& s, p11::KeyHandle mk_derive,
                                   std::string_view name, const Secret& seed) {
  const p11::SessionObject key = derive_otp_key(s, mk_derive, name);
  keystore::SealedBlob out;
  out.nonce = new_gcm_nonce();
  out.ciphertext = p11::gcm_seal(s, key, out.nonce, otp_aad(name), seed.bytes());
  return out;
}

Secret open_otp_seed(const p11::Session& s, p11::KeyHandle mk_derive, std::string_view name,
                     const keystore::SealedBlob& sealed) {
  const p11::SessionObject key = derive_otp_key(s, mk_derive, name);
  auto seed = p11::gcm_open(s, key, sealed.nonce, otp_aad(name), sealed.ciphertext);
  if (!seed)
    fail(Category::integrity, fmt::format("the stored one-time-code seed of user '{}' does not "
                                          "open: the keystore was changed, or it belongs to "
                                          "another master key", name));
  return std::move(*seed);
}

}  // namespace hsm
