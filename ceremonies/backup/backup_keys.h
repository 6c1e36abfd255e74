// What backup, restore and clone share: the backup contents gathered from a workspace, the
// tag under BK, and putting escrow blobs back on a token as the objects `key generate` made,
// each checked by sign and verify against its recorded public key, all or nothing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"
#include "core/backup/format.h"
#include "core/keystore/records.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/session.h"

namespace hsm {

// Everything a new token and workspace need, read from the workspace (keystore snapshot in one
// transaction). `kcv` is the master's check value.
backup::Contents collect_backup(Workspace& ws, const std::string& kcv);

// HMAC-SHA256(BK, authenticated) with BK = HMAC(S, "hsmctl v1 backup"), on the host.
Bytes backup_tag(const Secret& master, ByteView authenticated);
// Constant-time comparison of the tag a file carries with the one S gives; Error(integrity).
void check_backup_tag(const Secret& master, const backup::Envelope& envelope);

// The master record inside a keystore export (its share set lets a quorum be checked before the
// export is installed). Reads it through a throwaway keystore in a private temp directory.
std::optional<keystore::MasterRecord> master_in_export(const nlohmann::json& keystore_export);

// Recovers S from the shares, checking it gives `kcv` (Error(integrity) otherwise).
Secret recover_checked(const keystore::ShareSet& set, const std::string& kcv, ShareIntake intake);

struct InstalledKeys {
  std::vector<std::string> restored, skipped;
  std::vector<p11::KeyHandle> created;  // token objects made, for the caller's rollback
};
// Unwraps every "mk-wrap" entry under `wrap` into token objects with the attributes `key
// generate` gives (label, id, mechanism; sensitive, non-extractable, not modifiable), then
// signs and verifies with each. A key already on the token: Error(not_found) before anything
// is made, unless `skip_existing` (then it is only checked) — the transcript key, which `master
// restore` puts back, is always taken as it is once it passes the check. The transcript key
// whose id is `signing_key_id` (the workspace's current one) is installed even when another
// workspace's transcript key holds its label on the token: the ceremony signs with it next.
// On any failure every object made here is destroyed before the error propagates.
InstalledKeys install_backup_keys(const p11::Session& s, p11::KeyHandle wrap,
                                  const std::vector<backup::KeyEntry>& keys, bool skip_existing,
                                  const std::string& signing_key_id = {});

// The key id (hex) of the key that signs the workspace transcript's next entry; empty if none.
std::string current_transcript_key_id(const Workspace& ws);

// Destroys objects, ignoring errors (rollback).
void destroy_all(const p11::Session& s, const std::vector<p11::KeyHandle>& handles) noexcept;

}  // namespace hsm
