// The keystore's schema as an ordered list of migration steps, and the check that refuses a
// database written by a newer hsmctl. Must never change a step that has shipped: add a new one.
#pragma once

#include <string_view>
#include <vector>

#include "core/keystore/sqlite.h"

namespace hsm::keystore {

// The schema version this hsmctl writes (PRAGMA user_version).
int latest_schema_version();

// The version stored in the file: 0 for a new, empty file.
int schema_version(Database& db);

// Refuses a file that is not an hsmctl keystore or whose schema is newer than this hsmctl
// (Error(general)); then applies every missing step in one BEGIN IMMEDIATE transaction, so two
// processes opening a new workspace at once migrate it once.
void migrate(Database& db);

// Every table, ordered so that each comes after the tables it references (export and import
// follow this order; deletion goes backwards).
const std::vector<std::string_view>& table_names();
// The schema version that made `table`. Every step after kOldestImportableSchema only adds
// tables, so an export of that schema or later imports with the newer tables empty.
int table_since(std::string_view table);
inline constexpr int kOldestImportableSchema = 2;

// PostgreSQL only: the fleet's transcript (core/transcript/fleet_log.h), one row per entry. Not
// a numbered step: an SQLite keystore never gets it (its transcript is DIR/transcript.jsonl, and
// its schema version, backups and digests stay as they were); it is not a keystore table for
// export, import or the state digests (a backup carries no transcript). Idempotent.
const char* fleet_transcript_ddl();

}  // namespace hsm::keystore
