// The keystore schema, one migration step per version, and the version check at open. Tables
// hold public data and wrapped blobs only; a step that has shipped is never edited.
#include "core/keystore/schema.h"

#include <iterator>
#include <string>

#include "core/error.h"

namespace hsm::keystore {

namespace {

// "HSMK": marks the file as an hsmctl keystore (PRAGMA application_id).
constexpr int kApplicationId = 0x48534D4B;

struct Migration {
  int version;  // the user_version after this step
  const char* sql;
};

// Version 1. Booleans are INTEGER 0/1, times RFC 3339 UTC text, ids and commitments hex text,
// keys and sealed blobs BLOB. The current share set is master.generation; every other one is
// retired, so "retired" is derived rather than stored.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE share_sets (
  generation         INTEGER PRIMARY KEY CHECK (generation >= 1),
  identifier         INTEGER NOT NULL CHECK (identifier BETWEEN 0 AND 32767),
  extendable         INTEGER NOT NULL CHECK (extendable IN (0, 1)),
  iteration_exponent INTEGER NOT NULL CHECK (iteration_exponent BETWEEN 0 AND 15),
  group_threshold    INTEGER NOT NULL CHECK (group_threshold BETWEEN 1 AND 16),
  created            TEXT NOT NULL,
  created_seq        INTEGER NOT NULL
);

CREATE TABLE share_groups (
  generation       INTEGER NOT NULL REFERENCES share_sets (generation),
  group_index      INTEGER NOT NULL CHECK (group_index BETWEEN 0 AND 15),
  member_threshold INTEGER NOT NULL CHECK (member_threshold BETWEEN 1 AND 16),
  PRIMARY KEY (generation, group_index)
);

CREATE TABLE custodians (
  generation   INTEGER NOT NULL,
  group_index  INTEGER NOT NULL,
  member_index INTEGER NOT NULL CHECK (member_index BETWEEN 0 AND 15),
  name         TEXT NOT NULL,
  commitment   TEXT NOT NULL,
  PRIMARY KEY (generation, group_index, member_index),
  UNIQUE (generation, name),
  FOREIGN KEY (generation, group_index) REFERENCES share_groups (generation, group_index)
);

CREATE TABLE master (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  kcv         TEXT NOT NULL,
  created     TEXT NOT NULL,
  created_seq INTEGER NOT NULL,
  generation  INTEGER NOT NULL REFERENCES share_sets (generation),
  active      INTEGER NOT NULL CHECK (active IN (0, 1))
);

CREATE TABLE keys (
  id          INTEGER PRIMARY KEY,
  label       TEXT NOT NULL UNIQUE,
  key_id      TEXT NOT NULL UNIQUE,
  algorithm   TEXT NOT NULL,
  purpose     TEXT NOT NULL CHECK (purpose IN ('ca', 'code', 'generic', 'transcript')),
  quorum      INTEGER NOT NULL CHECK (quorum >= 0),
  escrow      TEXT NOT NULL CHECK (escrow IN ('mk-wrap', 'qk', 'none')),
  wrapped_key BLOB,
  public_key  BLOB NOT NULL,
  created     TEXT NOT NULL,
  crl_number  INTEGER NOT NULL CHECK (crl_number >= 0),
  status      TEXT NOT NULL CHECK (status IN ('active', 'retired')),
  CHECK ((escrow = 'none') = (wrapped_key IS NULL)),
  CHECK ((escrow = 'qk') = (quorum > 0))
);

CREATE TABLE revocations (
  issuer  INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
  serial  TEXT NOT NULL,
  reason  TEXT NOT NULL,
  revoked TEXT NOT NULL,
  PRIMARY KEY (issuer, serial)
);

CREATE TABLE users (
  id               INTEGER PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE,
  algorithm        TEXT NOT NULL,
  public_key       BLOB NOT NULL,
  key_version      INTEGER NOT NULL,
  outer_blob       BLOB NOT NULL,
  outer_nonce      BLOB NOT NULL,
  kdf_profile      TEXT NOT NULL,
  kdf_salt         BLOB NOT NULL,
  kdf_opslimit     INTEGER NOT NULL CHECK (kdf_opslimit >= 0),
  kdf_memlimit     INTEGER NOT NULL CHECK (kdf_memlimit >= 0),
  ecdh_public_key  BLOB,
  ecdh_outer_blob  BLOB,
  ecdh_outer_nonce BLOB,
  otp_seed         BLOB,
  otp_nonce        BLOB,
  otp_enrolled     INTEGER NOT NULL CHECK (otp_enrolled IN (0, 1)),
  otp_last_step    INTEGER NOT NULL,
  failures         INTEGER NOT NULL CHECK (failures >= 0),
  locked           INTEGER NOT NULL CHECK (locked IN (0, 1)),
  created          TEXT NOT NULL,
  rotated          TEXT NOT NULL,
  CHECK ((ecdh_public_key IS NULL) = (ecdh_outer_blob IS NULL)
         AND (ecdh_outer_blob IS NULL) = (ecdh_outer_nonce IS NULL)),
  CHECK ((otp_seed IS NULL) = (otp_nonce IS NULL)),
  CHECK (otp_enrolled = 0 OR otp_seed IS NOT NULL)
);

CREATE TABLE groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  algorithm   TEXT NOT NULL,
  public_key  BLOB NOT NULL,
  wrapped_key BLOB NOT NULL,
  key_version INTEGER NOT NULL,
  created     TEXT NOT NULL
);

CREATE TABLE group_members (
  group_id             INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id              INTEGER NOT NULL REFERENCES users (id),
  sealed_key           BLOB NOT NULL,
  nonce                BLOB NOT NULL,
  ephemeral_public_key BLOB NOT NULL,
  added                TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);
)sql";

// Version 2: a group's inner blob (its private key under MK-wrap) is no longer stored beside
// the group: a PIN holder could unwrap it and sign. It lives only inside the members' sealed
// layers (docs/design.md "Key hierarchy", group keys). No hsmctl wrote group rows at version 1.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE groups DROP COLUMN wrapped_key;
)sql";

// Version 3: the old key versions of encryption groups (docs/design.md, "Group data keys"):
// removing a member rotates the key, and data encrypted to an older version must stay readable
// by the members who remain. Each kept version keeps its public key and the remaining members'
// layers as they were sealed; a removed member's layers of every version are deleted. Both
// tables are hashed into the group's state row only when the group has rows there, so the
// state digests of every other group stay what they were.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE group_old_keys (
  group_id    INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  key_version INTEGER NOT NULL,
  public_key  BLOB NOT NULL,
  retired     TEXT NOT NULL,
  PRIMARY KEY (group_id, key_version)
);

CREATE TABLE group_old_layers (
  group_id             INTEGER NOT NULL,
  key_version          INTEGER NOT NULL,
  user_id              INTEGER NOT NULL REFERENCES users (id),
  sealed_key           BLOB NOT NULL,
  nonce                BLOB NOT NULL,
  ephemeral_public_key BLOB NOT NULL,
  added                TEXT NOT NULL,
  PRIMARY KEY (group_id, key_version, user_id),
  FOREIGN KEY (group_id, key_version) REFERENCES group_old_keys (group_id, key_version)
    ON DELETE CASCADE
);
CREATE INDEX group_old_layers_by_user ON group_old_layers (user_id);
)sql";

// Version 4: the names of a share set's groups (SLIP-0039 two-level sets, master init --group).
// Single-level sets have no rows here, and the master's state row takes this table in only when
// it has rows, so the state digests of existing workspaces stay what they were.
constexpr const char* kVersion4 = R"sql(
CREATE TABLE share_group_names (
  generation  INTEGER NOT NULL,
  group_index INTEGER NOT NULL,
  name        TEXT NOT NULL,
  PRIMARY KEY (generation, group_index),
  UNIQUE (generation, name),
  FOREIGN KEY (generation, group_index) REFERENCES share_groups (generation, group_index)
);
)sql";

// Version 5: an encryption group's minimum decryption version (`group retire`): the old key
// versions below it are deleted and what was encrypted to them is refused. A group that never
// retired has no row here, and its state row takes this table in only when it has one, so
// existing state digests stay what they were.
constexpr const char* kVersion5 = R"sql(
CREATE TABLE group_min_versions (
  group_id    INTEGER PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
  min_version INTEGER NOT NULL,
  retired     TEXT NOT NULL
);
)sql";

// Append only. Each step runs inside the migration transaction.
constexpr Migration kMigrations[] = {
    {1, kVersion1},
    {2, kVersion2},
    {3, kVersion3},
    {4, kVersion4},
    {5, kVersion5},
};

constexpr bool steps_are_numbered_from_one() {
  for (std::size_t i = 0; i < std::size(kMigrations); ++i)
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  return true;
}
static_assert(steps_are_numbered_from_one(), "migration i must produce version i + 1");

std::int64_t pragma_integer(Database& db, const char* pragma) {
  Statement st(db, std::string("PRAGMA ") + pragma);
  return st.step() ? st.integer_at(0) : 0;
}

// What a file is, read in one statement so that it is one snapshot: read one pragma at a
// time, a process that finished creating the keystore between two reads made it look like a
// foreign database (application id still 0, tables already there), and a process opening a
// new workspace at the same moment refused it (seen under load in the concurrency test).
struct FileState {
  std::int64_t application_id = 0;
  int version = 0;
  bool has_tables = false;
};

// On PostgreSQL the application id and the version are a one-row table, hsmctl_schema, in the
// connection's current schema; "has tables" counts the other tables there.
constexpr const char* kPgSchemaTable =
    "CREATE TABLE IF NOT EXISTS hsmctl_schema (id BIGINT PRIMARY KEY CHECK (id = 1), "
    "application BIGINT NOT NULL, version BIGINT NOT NULL)";

FileState read_pg_state(Database& db) {
  FileState f;
  Statement tables(db, "SELECT count(*) AS n, "
                       "count(*) FILTER (WHERE table_name = 'hsmctl_schema') AS marker "
                       "FROM information_schema.tables WHERE table_schema = current_schema()");
  if (tables.step()) {
    f.has_tables = tables.integer("n") > tables.integer("marker");
    if (tables.integer("marker") == 0) return f;
  }
  Statement st(db, "SELECT application, version FROM hsmctl_schema WHERE id = 1");
  if (st.step()) {
    f.application_id = st.integer("application");
    f.version = static_cast<int>(st.integer("version"));
  }
  return f;
}

FileState read_state(Database& db) {
  if (db.is_postgres()) return read_pg_state(db);
  Statement st(db, "SELECT (SELECT application_id FROM pragma_application_id), "
                   "(SELECT user_version FROM pragma_user_version), "
                   "(SELECT count(*) FROM sqlite_schema WHERE type = 'table')");
  FileState f;
  if (st.step()) {
    f.application_id = st.integer_at(0);
    f.version = static_cast<int>(st.integer_at(1));
    f.has_tables = st.integer_at(2) > 0;
  }
  return f;
}

void check_file(Database& db, const FileState& f) {
  if (f.application_id != kApplicationId && (f.application_id != 0 || f.version != 0 || f.has_tables))
    fail(Category::general,
         db.is_postgres()
             ? db.path() + " has tables but no hsmctl keystore in schema current_schema(); use "
                           "another database, or another schema (options=-csearch_path=NAME)"
             : db.path() + " is an SQLite database but not an hsmctl keystore; move it away or "
                           "point --dir at an hsmctl workspace");
  if (f.version > latest_schema_version())
    fail(Category::general, "keystore schema " + std::to_string(f.version) +
                                " is newer than this hsmctl (" +
                                std::to_string(latest_schema_version()) + "); upgrade hsmctl");
}

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

int schema_version(Database& db) {
  if (db.is_postgres()) return read_pg_state(db).version;
  return static_cast<int>(pragma_integer(db, "user_version"));
}

void migrate(Database& db) {
  FileState state = read_state(db);
  check_file(db, state);
  if (state.version == latest_schema_version()) return;

  Transaction tx(db);
  state = read_state(db);  // another process may have migrated while we waited
  check_file(db, state);
  const int version = state.version;
  const bool pg = db.is_postgres();
  if (pg) db.exec(kPgSchemaTable);
  for (const auto& step : kMigrations) {
    if (step.version <= version) continue;
    db.exec(db.ddl(step.sql));
    if (!pg) db.exec("PRAGMA user_version = " + std::to_string(step.version));
  }
  if (pg) {
    Statement mark(db, "INSERT INTO hsmctl_schema (id, application, version) VALUES (1, :a, :v) "
                       "ON CONFLICT (id) DO UPDATE SET application = excluded.application, "
                       "version = excluded.version");
    mark.bind(":a", kApplicationId).bind(":v", latest_schema_version()).run();
  } else {
    db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
  }
  tx.commit();
}

const char* fleet_transcript_ddl() {
  return "CREATE TABLE IF NOT EXISTS transcript_entries ("
         "seq BIGINT PRIMARY KEY CHECK (seq >= 0), "
         "node TEXT COLLATE \"C\" NOT NULL, "
         "line TEXT COLLATE \"C\" NOT NULL)";
}

int table_since(std::string_view table) {
  if (table == "group_old_keys" || table == "group_old_layers") return 3;
  if (table == "share_group_names") return 4;
  if (table == "group_min_versions") return 5;
  return 1;
}

const std::vector<std::string_view>& table_names() {
  static const std::vector<std::string_view> kTables = {
      "meta",  "share_sets",  "share_groups", "custodians", "master",
      "keys",  "revocations", "users",        "groups",     "group_members",
      "group_old_keys", "group_old_layers", "share_group_names", "group_min_versions",
  };
  return kTables;
}

}  // namespace hsm::keystore
