// What every group ceremony shares: the group key algorithms, the making of a new group key
// sealed to a list of members, and the opening of the key by one member with their own factors
// (see group_agreement.h for what a PIN holder can and cannot do). Never keeps the group's inner
// blob anywhere but in a Secret, and never stores it outside the members' layers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/users/user_layers.h"
#include "core/keystore/records.h"

namespace hsm {

// p256, p384 or rsa3072 (a group key must be escrowed, and SoftHSM 2.6.1 cannot wrap Ed25519);
// Error(usage) for anything else.
const UserAlgorithm& group_algorithm(std::string_view name);
// An encryption group's key is an ECDH P-256 pair (`group create --purpose encrypt`), kept in
// groups.algorithm as "ecdh-p256" (kAgreementAlgorithm): data is encrypted to it on the host
// and decrypted by a member on the token (ceremonies/data/).
bool is_encryption_group(const keystore::GroupRecord& group);
// Error(usage) unless the group's key has `purpose` ("sign" or "encrypt"), naming the command
// that fits.
void require_group_purpose(const keystore::GroupRecord& group, std::string_view purpose);
// The algorithm name crypto::verify_signature uses ("ec-p256", "ec-p384", "rsa-3072").
std::string verify_name(std::string_view group_algorithm);

// The group, or Error(not_found).
keystore::GroupRecord require_group(keystore::Keystore& ks, const std::string& name);
// The user with their key-agreement public key: Error(not_found) for an unknown user,
// Error(general) for one made before group keys who has not used their password since.
keystore::UserRecord require_member_candidate(keystore::Keystore& ks, const std::string& name);

// A new key for `group` (its name, algorithm and key version already set): a pair escrowed at
// birth under MK-wrap (an ECDH pair for an encryption group), sealed to every user in
// `members`; sets group.public_key.
std::vector<keystore::GroupMember> new_group_key(const p11::Session& s, const MasterKeys& mk,
                                                 keystore::GroupRecord& group,
                                                 const std::vector<keystore::UserRecord>& members,
                                                 const std::string& now);

struct UnlockedGroup {
  keystore::GroupRecord group;
  Secret inner;  // the group's private key wrapped under MK-wrap, out of the member's layer
};

// Member `as` opens the group key: Error(not_found) for an unknown group or user, Error(auth)
// for a user who is not a member (recorded as group.access.refused) or whose factors fail
// (counted, as in user sign), Error(integrity) for a layer that does not open although the
// member's password is right (recorded as group.layer.failed) or that holds another key than
// the group's public key. With `version` other than the current one (an encryption group's
// kept old version): that version's key, with `as`'s layer of it (Error(integrity) when the
// group keeps no such version, Error(auth), recorded, when `as` has no layer of it).
UnlockedGroup unlock_group_key(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                               const std::string& group, const std::string& as,
                               const UserFactors& factors, std::int64_t max_failures,
                               std::optional<std::int64_t> version = std::nullopt);

// Error(not_found) "key version N of group G is retired" when `version` is below the group's
// minimum decryption version (group retire); nothing for nullopt (the current version).
void require_not_retired(keystore::Keystore& ks, const keystore::GroupRecord& group,
                         std::optional<std::int64_t> version);

// The current key and, for an encryption group, every kept old version `as` holds a layer of
// (oldest first), opened with one authentication (a one-time code is good once): for group add,
// which seals them all to the new member. Refusals as unlock_group_key.
struct UnlockedVersions {
  UnlockedGroup current;
  std::vector<UnlockedGroup> old;
};
UnlockedVersions unlock_group_versions(Recorder& rec, Workspace& ws, const MasterKeys& mk,
                                       const std::string& group, const std::string& as,
                                       const UserFactors& factors, std::int64_t max_failures);

// Signs `data` with the unlocked group key (a sensitive, non-extractable session copy, destroyed
// at once); ECDSA in DER. Error(integrity) when the signature does not verify against the
// group's public key.
Bytes sign_with_group_key(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g,
                          ByteView data);

}  // namespace hsm
