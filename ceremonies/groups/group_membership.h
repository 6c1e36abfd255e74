// group create | add | remove: who holds a layer of a group key. Creating and rotating need only
// the members' public keys (no password); adding needs one member's factors, because the key
// can only come out of a member's layer; removing rotates: a new key pair sealed to the
// remaining members replaces the old key and every old layer, so the old key is gone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/recorder.h"
#include "ceremonies/users/user_auth.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct GroupCreateOptions {
  std::string name;
  std::vector<std::string> members;
  std::string algorithm = "p256";  // p256, p384, rsa3072
  // "sign" (default) or "encrypt": an encryption group's key is an ECDH P-256 pair, kept with
  // the algorithm "ecdh-p256" (group_keys.h, is_encryption_group).
  std::string purpose = "sign";
  // Error(usage): malformed group or user name, no or repeated members, unknown algorithm or
  // purpose, an algorithm other than p256 with purpose encrypt.
  void validate() const;
};

struct GroupResult {
  std::string name, algorithm, fingerprint;
  std::int64_t key_version = 0;
  std::vector<std::string> members;
  std::uint64_t seq = 0;  // transcript seq of the ceremony's main event
  // group add: the old key versions sealed to the new member too; group retire: the versions
  // deleted.
  std::vector<std::int64_t> old_versions;
  std::int64_t min_version = 0;  // group retire: the new minimum decryption version
};

GroupResult group_create(Workspace& ws, const GroupCreateOptions& options);

// The body of group create, for ceremonies that make groups (user provision): a new key for
// `name` sealed to `members` (each with a key-agreement key; see require_member_candidate),
// stored and recorded as group.created in one keystore transaction. The caller has checked
// that no group `name` exists.
GroupResult make_group(Recorder& rec, keystore::Keystore& ks, const p11::Session& s,
                       const MasterKeys& mk, const std::string& name, const std::string& algorithm,
                       const std::vector<keystore::UserRecord>& members);

struct GroupAddOptions {
  std::string group, user;
  std::string as;  // a member who opens the key with their own factors
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  void validate() const;
};

// For an encryption group the new member also gets a layer of every kept old version that the
// admitting member (`as`) holds, so they can read data encrypted before they joined; versions
// `as` has no layer of are left out (GroupResult::old_versions lists the ones sealed).
GroupResult group_add(Workspace& ws, const GroupAddOptions& options);

struct GroupRemoveOptions {
  std::string group, user;
  void validate() const;
};

// Error(not_found) when the user is not a member; Error(general) for the last member (a key
// nobody could open). An encryption group keeps the old version (its public key and the
// remaining members' layers) so that data encrypted to it stays readable; the removed member's
// layers of every version are deleted.
GroupResult group_remove(Workspace& ws, const GroupRemoveOptions& options);

// group retire: sets an encryption group's minimum decryption version to `below`. The kept old
// versions below it are deleted (public keys and every layer: they cannot come back), and
// decrypt, dek open and dek rewrap of an envelope below it are refused with exit 7. Needs a
// member's factors. Error(usage): a signing group, `below` past the current version or not
// above the minimum already set.
struct GroupRetireOptions {
  std::string group, as;
  std::int64_t below = 0;
  UserFactors factors;
  std::int64_t max_auth_failures = kDefaultMaxAuthFailures;
  void validate() const;
};

GroupResult group_retire(Workspace& ws, const GroupRetireOptions& options);

}  // namespace hsm
