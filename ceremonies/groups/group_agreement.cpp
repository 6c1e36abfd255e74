// ECDH key-agreement keys of users and the sealed layers of group keys, on the token.
#include "ceremonies/groups/group_agreement.h"

#include <fmt/format.h>

#include "ceremonies/users/user_layers.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/agree.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/templates.h"

namespace hsm {

namespace {

std::string layer_context(const keystore::GroupRecord& g, const std::string& user) {
  return fmt::format("hsmctl v1 group|{}|{}|{}|{}", g.name, user, g.algorithm, g.key_version);
}

// The uncompressed point of a P-256 SPKI, or Error(integrity) naming `what`.
Bytes p256_point(ByteView spki, const std::string& what) {
  const crypto::Pkey key = crypto::load_spki(spki);
  if (!crypto::is_p256(key.get()))
    fail(Category::integrity, fmt::format("{} is not a P-256 key: the keystore was changed", what));
  return crypto::public_parts(spki).ec_point;
}

// AES-ECB(Z, SHA-256(context || ephemeral SPKI || member SPKI)), or HMAC-SHA256 with the same
// data under the KEK derivation fallback: the agreed secret Z (the ECDH x-coordinate) never
// leaves the token; the derivation binds the layer key to its context (SoftHSM 2.6.1 has no
// ECDH KDF and no HKDF, so this is the KDF the token offers).
p11::SessionObject layer_key(const p11::Session& s, p11::KeyHandle agreement_private,
                             ByteView peer_point, const std::string& context,
                             ByteView ephemeral_spki, ByteView member_spki) {
  // Derived the way the workspace's master derives (the HMAC-SHA256 fallback on a token
  // without AES-ECB-ENCRYPT-DATA), so a layer opens on every token the master is restored to.
  const auto mk = find_master_keys(s);
  p11::Template zt =
      p11::agreed_secret(mk ? mk->derivation : p11::KekDerivation::aes_ecb);
  const p11::SessionObject z = p11::agree_key(s, agreement_private, peer_point, zt);
  Bytes info = to_bytes(context);
  info.insert(info.end(), ephemeral_spki.begin(), ephemeral_spki.end());
  info.insert(info.end(), member_spki.begin(), member_spki.end());
  p11::Template kt = p11::group_layer_key();
  return p11::derive_session_key(s, z.handle(), crypto::sha256(info), kt);
}

}  // namespace

EscrowedKey generate_agreement_key(const p11::Session& s, p11::KeyHandle mk_wrap) {
  auto templates = p11::agreement_session_pair();
  const p11::KeyPair pair = p11::generate_pair(s, p11::KeyAlgorithm::ec_p256, templates);
  const p11::SessionObject priv(s, pair.private_key), pub(s, pair.public_key);
  EscrowedKey out{p11::KeyAlgorithm::ec_p256, {}, {}};
  out.spki = p11::public_key_spki(s, pub.handle());
  out.blob = p11::wrap_key(s, mk_wrap, priv.handle());
  return out;
}

keystore::SealedBlob seal_agreement_key(const p11::Session& s, const p11::SessionObject& kek,
                                        const std::string& name, std::int64_t key_version,
                                        ByteView inner) {
  return seal_outer(s, kek, name, kAgreementAlgorithm, key_version, inner);
}

std::optional<Secret> open_agreement_key(const p11::Session& s, const p11::SessionObject& kek,
                                         const keystore::UserRecord& u) {
  if (!u.secrets.ecdh_key) return std::nullopt;
  const keystore::SealedBlob& b = *u.secrets.ecdh_key;
  if (b.nonce.size() != p11::kGcmNonceSize || b.ciphertext.size() <= p11::kGcmTagSize)
    return std::nullopt;
  return p11::gcm_open(s, kek, b.nonce,
                       outer_aad(u.name, kAgreementAlgorithm, u.secrets.key_version),
                       b.ciphertext);
}

keystore::GroupMember seal_group_layer(const p11::Session& s, const keystore::GroupRecord& g,
                                       const std::string& user, ByteView member_spki,
                                       ByteView group_inner, const std::string& added) {
  const Bytes member_point =
      p256_point(member_spki, fmt::format("the key-agreement key of user '{}'", user));
  auto templates = p11::ephemeral_agreement_pair();
  const p11::KeyPair pair = p11::generate_pair(s, p11::KeyAlgorithm::ec_p256, templates);
  const p11::SessionObject eph_priv(s, pair.private_key), eph_pub(s, pair.public_key);
  keystore::GroupMember m;
  m.group = g.name;
  m.user = user;
  m.added = added;
  m.ephemeral_public_key = p11::public_key_spki(s, eph_pub.handle());
  const std::string context = layer_context(g, user);
  const p11::SessionObject key = layer_key(s, eph_priv.handle(), member_point, context,
                                           m.ephemeral_public_key, member_spki);
  m.sealed_key.nonce = new_gcm_nonce();
  m.sealed_key.ciphertext =
      p11::gcm_seal(s, key, m.sealed_key.nonce, to_bytes(context), group_inner);
  return m;
}

std::optional<Secret> open_group_layer(const p11::Session& s, p11::KeyHandle mk_wrap,
                                       const keystore::GroupRecord& g,
                                       const keystore::GroupMember& m, ByteView member_spki,
                                       const Secret& agreement_inner) {
  const keystore::SealedBlob& b = m.sealed_key;
  if (b.nonce.size() != p11::kGcmNonceSize || b.ciphertext.size() <= p11::kGcmTagSize)
    fail(Category::integrity, fmt::format("the layer of user '{}' in group '{}' is malformed "
                                          "(nonce {} bytes, blob {} bytes): the keystore was "
                                          "changed", m.user, g.name, b.nonce.size(),
                                          b.ciphertext.size()));
  const Bytes eph_point = p256_point(
      m.ephemeral_public_key,
      fmt::format("the ephemeral key of user '{}' in group '{}'", m.user, g.name));
  p11::Template t = p11::agreement_session_private_key();
  const p11::SessionObject priv(s, p11::unwrap_key(s, mk_wrap, agreement_inner.bytes(), t));
  const std::string context = layer_context(g, m.user);
  const p11::SessionObject key =
      layer_key(s, priv.handle(), eph_point, context, m.ephemeral_public_key, member_spki);
  return p11::gcm_open(s, key, b.nonce, to_bytes(context), b.ciphertext);
}

}  // namespace hsm
