// The key agreement behind group keys (docs/design.md, group keys). Each user has an
// ECDH P-256 key pair, two-layer like their signing key (inner: MK-wrap; outer: their password
// KEK). A member's layer of a group key is the group's inner blob sealed with AES-256-GCM under
// a key agreed on the token between a one-use ephemeral pair and the member's public key, so
// sealing needs only the member's public key and opening needs the member's password.
//
// What a PIN holder with the keystore but no member's password can do: nothing with a group
// key. The group's inner blob is stored only inside members' layers; opening a layer needs the
// member's ECDH private key, whose inner blob is itself sealed under the member's password KEK;
// the ephemeral private key is destroyed once the layer is sealed. They can rotate a group
// (`group remove`), which only replaces the key with a new one sealed to the members. With one
// member's password they can do what that member can (sign with the group key while logged in),
// but every unwrap under MK-wrap gives a sensitive, non-extractable key: no copy leaves the token.
// Never stores, logs or prints anything; what a layer opens to comes back in a Secret.
#pragma once

#include <optional>
#include <string>

#include "ceremonies/master/master_keys.h"
#include "core/bytes.h"
#include "core/keystore/records.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/keys.h"
#include "core/secure/secret.h"

namespace hsm {

// The name of the key-agreement key's algorithm in its outer layer's AAD.
inline constexpr const char* kAgreementAlgorithm = "ecdh-p256";

// An ECDH P-256 pair made as session objects, the private key wrapped under MK-wrap, both
// destroyed: the inner blob and the public key.
EscrowedKey generate_agreement_key(const p11::Session& s, p11::KeyHandle mk_wrap);

// The outer layer of a user's key-agreement key under their KEK (AAD: name, "ecdh-p256",
// the user's key version), and its opening: nullopt when it does not open.
keystore::SealedBlob seal_agreement_key(const p11::Session& s, const p11::SessionObject& kek,
                                        const std::string& name, std::int64_t key_version,
                                        ByteView inner);
std::optional<Secret> open_agreement_key(const p11::Session& s, const p11::SessionObject& kek,
                                         const keystore::UserRecord& user);

// Seals `group_inner` to `user` (whose key-agreement public key is `member_spki`): a one-use
// pair on the token, ECDH to the member's point, a layer key derived from the agreed secret
// and the context (group, user, algorithm, key version, both public keys), AES-GCM with the
// context as AAD. Every key involved is a session object destroyed before this returns.
keystore::GroupMember seal_group_layer(const p11::Session& s, const keystore::GroupRecord& group,
                                       const std::string& user, ByteView member_spki,
                                       ByteView group_inner, const std::string& added);

// Opens a member's layer with the member's key-agreement inner blob (out of its outer layer):
// the ECDH private key is unwrapped under MK-wrap for one use. nullopt when the layer does not
// authenticate (changed blob, nonce, ephemeral key or context); Error(integrity) when a stored
// key is malformed or the agreement key does not unwrap.
std::optional<Secret> open_group_layer(const p11::Session& s, p11::KeyHandle mk_wrap,
                                       const keystore::GroupRecord& group,
                                       const keystore::GroupMember& member, ByteView member_spki,
                                       const Secret& agreement_inner);

}  // namespace hsm
