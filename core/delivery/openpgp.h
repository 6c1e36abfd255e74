// Encrypted delivery of a share: the share encrypted to its custodian's OpenPGP public key
// (gpgme, the OpenPGP engine GnuPG), so that it can travel by mail and be decrypted with stock
// `gpg --decrypt` on the custodian's own machine.
//
// The key is read from a file the administrator names, imported into a throwaway GnuPG home
// (a 0700 temporary directory, removed afterwards): the user's own keyring is never read or
// changed, and nothing about the key's trust is assumed beyond "this file is the custodian's
// key", which is why its fingerprint is shown and recorded for the custodian to confirm.
#pragma once

#include <filesystem>
#include <string>

#include "core/bytes.h"
#include "core/secure/secret.h"

namespace hsm::delivery {

struct OpenPgpRecipient {
  std::string fingerprint;  // the primary key's, upper-case hex
  std::string user_id;      // its first user id ("" when none)
};

struct OpenPgpMessage {
  OpenPgpRecipient recipient;
  std::string armored;  // an ASCII-armored OpenPGP message ("-----BEGIN PGP MESSAGE-----")
};

// The one public key in `key_file`, checked as encrypt_to_key_file checks it, without
// encrypting anything (so that a ceremony can refuse a bad key file before it starts).
OpenPgpRecipient inspect_key_file(const std::filesystem::path& key_file);

// Encrypts `plaintext` to the one public key in `key_file` (armored or binary). Error(usage)
// for a file that does not hold exactly one public key, holds a secret key, or whose key
// cannot encrypt (expired, revoked, no encryption subkey); Error(not_found) for a missing
// file; Error(general) when GnuPG fails, with its reason.
OpenPgpMessage encrypt_to_key_file(const std::filesystem::path& key_file, const Secret& plaintext);

}  // namespace hsm::delivery
