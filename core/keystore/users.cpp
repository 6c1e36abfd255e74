// User records (table users): public keys, outer blobs sealed under each user's password KEK,
// KDF parameters; their OTP and lockout state is changed in user_auth_state.cpp. Never a
// password, a KEK, an OTP seed or a key in clear.
#include <array>
#include <limits>

#include "core/error.h"
#include "core/keystore/keystore.h"
#include "core/keystore/postgres.h"

namespace hsm::keystore {

namespace {

[[noreturn]] void no_user(std::string_view name) {
  fail(Category::not_found, "user '" + std::string(name) + "' not found");
}

std::int64_t as_integer(std::uint64_t v, const char* what) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail(Category::general, std::string("internal error: ") + what + " is too large to store");
  return static_cast<std::int64_t>(v);
}

// Binds the password-sealed columns shared by insert_user and update_user_secrets.
void bind_secrets(Statement& st, const UserSecrets& s) {
  st.bind(":key_version", s.key_version)
      .bind(":outer_blob", s.signing_key.ciphertext)
      .bind(":outer_nonce", s.signing_key.nonce)
      .bind(":kdf_profile", s.kdf.profile)
      .bind(":kdf_salt", s.kdf.salt)
      .bind(":kdf_opslimit", as_integer(s.kdf.opslimit, "kdf opslimit"))
      .bind(":kdf_memlimit", as_integer(s.kdf.memlimit, "kdf memlimit"));
  if (s.ecdh_key)
    st.bind(":ecdh_outer_blob", s.ecdh_key->ciphertext)
        .bind(":ecdh_outer_nonce", s.ecdh_key->nonce);
  else
    st.bind(":ecdh_outer_blob", nullptr).bind(":ecdh_outer_nonce", nullptr);
}

std::optional<SealedBlob> read_sealed(const Statement& st, const char* blob, const char* nonce) {
  if (st.is_null(blob)) return std::nullopt;
  return SealedBlob{.ciphertext = st.blob(blob), .nonce = st.blob(nonce)};
}

UserRecord read_user(const Statement& st) {
  UserRecord u;
  u.name = st.text("name");
  u.algorithm = st.text("algorithm");
  u.public_key = st.blob("public_key");
  u.ecdh_public_key = st.optional_blob("ecdh_public_key");
  u.secrets.key_version = st.integer("key_version");
  u.secrets.kdf = {.profile = st.text("kdf_profile"),
                   .salt = st.blob("kdf_salt"),
                   .opslimit = static_cast<std::uint64_t>(st.integer("kdf_opslimit")),
                   .memlimit = static_cast<std::uint64_t>(st.integer("kdf_memlimit"))};
  u.secrets.signing_key = {.ciphertext = st.blob("outer_blob"), .nonce = st.blob("outer_nonce")};
  u.secrets.ecdh_key = read_sealed(st, "ecdh_outer_blob", "ecdh_outer_nonce");
  u.otp = {.seed = read_sealed(st, "otp_seed", "otp_nonce"),
           .enrolled = st.integer("otp_enrolled") != 0,
           .last_step = st.integer("otp_last_step")};
  u.failures = st.integer("failures");
  u.locked = st.integer("locked") != 0;
  u.created = st.text("created");
  u.rotated = st.text("rotated");
  return u;
}

// One new users row, every column bound (insert_user, and insert_users on SQLite); RETURNING *
// gives the row's state digest without reading it back.
constexpr const char* kInsertUser =
    "INSERT INTO users (name, algorithm, public_key, key_version, outer_blob, outer_nonce, "
    "kdf_profile, kdf_salt, kdf_opslimit, kdf_memlimit, ecdh_public_key, ecdh_outer_blob, "
    "ecdh_outer_nonce, otp_seed, otp_nonce, otp_enrolled, otp_last_step, failures, locked, "
    "created, rotated) VALUES (:name, :algorithm, :public_key, :key_version, :outer_blob, "
    ":outer_nonce, :kdf_profile, :kdf_salt, :kdf_opslimit, :kdf_memlimit, :ecdh_public_key, "
    ":ecdh_outer_blob, :ecdh_outer_nonce, :otp_seed, :otp_nonce, :otp_enrolled, :otp_last_step, "
    ":failures, :locked, :created, :rotated) RETURNING *";

void bind_user(Statement& st, const UserRecord& u) {
  st.bind(":name", u.name)
      .bind(":algorithm", u.algorithm)
      .bind(":public_key", u.public_key)
      .bind(":ecdh_public_key", u.ecdh_public_key)
      .bind(":otp_enrolled", u.otp.enrolled)
      .bind(":otp_last_step", u.otp.last_step)
      .bind(":failures", u.failures)
      .bind(":locked", u.locked)
      .bind(":created", u.created)
      .bind(":rotated", u.rotated);
  if (u.otp.seed)
    st.bind(":otp_seed", u.otp.seed->ciphertext).bind(":otp_nonce", u.otp.seed->nonce);
  else
    st.bind(":otp_seed", nullptr).bind(":otp_nonce", nullptr);
  bind_secrets(st, u.secrets);
}

}  // namespace

void Keystore::insert_user(const UserRecord& u) {
  Transaction tx(db_);
  before_change("user/" + u.name, /*new_row=*/true);
  Statement st(db_, kInsertUser);
  bind_user(st, u);
  // The new row's digest from the row the insert returns (not read back: one user of a
  // provisioning batch costs one statement, not two).
  if (!st.insert_returning("user '" + u.name + "' already exists"))
    fail(Category::general, "internal error: inserting user '" + u.name + "' returned no row");
  touch_inserted("user/" + u.name, "users", st);
  st.finish();
  tx.commit();
}

void Keystore::insert_users(const std::vector<UserRecord>& users) {
  Transaction tx(db_);
  if (db_.is_postgres() && users.size() < 2) {
    for (const UserRecord& u : users) insert_user(u);
    tx.commit();
    return;
  }
  std::vector<std::string> keys;
  keys.reserve(users.size());
  for (const UserRecord& u : users) keys.push_back("user/" + u.name);
  load_buckets(keys);
  for (const std::string& key : keys) before_change(key, /*new_row=*/true);
  std::vector<std::pair<std::string, std::string>> digests;
  digests.reserve(users.size());
  if (!db_.is_postgres()) {
    // SQLite has no round trips to save, but one statement reused for every row and this
    // function's transaction as the only savepoint (insert_user's own, per row, made SQLite copy
    // each page a row touched into its statement journal), and the digests recorded together.
    Statement st(db_, kInsertUser);
    for (std::size_t i = 0; i < users.size(); ++i) {
      if (i > 0) st.reset();
      bind_user(st, users[i]);
      if (!st.insert_returning("user '" + users[i].name + "' already exists"))
        fail(Category::general,
             "internal error: inserting user '" + users[i].name + "' returned no row");
      if (Keystore::state_upkeep_on())
        digests.emplace_back(keys[i], inserted_digest(keys[i], "users", st));
      st.finish();
    }
    record_digests(digests);
    tx.commit();
    return;
  }
  // One row per user from one array per column: the same columns insert_user binds.
  enum Column { kName, kAlgorithm, kPublicKey, kKeyVersion, kOuterBlob, kOuterNonce, kKdfProfile,
                kKdfSalt, kOpslimit, kMemlimit, kEcdhPublicKey, kEcdhOuterBlob, kEcdhOuterNonce,
                kOtpSeed, kOtpNonce, kOtpEnrolled, kOtpLastStep, kFailures, kLocked, kCreated,
                kRotated, kColumns };
  std::array<pg::ArrayLiteral, kColumns> c;
  for (const UserRecord& u : users) {
    const UserSecrets& x = u.secrets;
    c[kName].add(u.name);
    c[kAlgorithm].add(u.algorithm);
    c[kPublicKey].add(ByteView(u.public_key));
    c[kKeyVersion].add(x.key_version);
    c[kOuterBlob].add(ByteView(x.signing_key.ciphertext));
    c[kOuterNonce].add(ByteView(x.signing_key.nonce));
    c[kKdfProfile].add(x.kdf.profile);
    c[kKdfSalt].add(ByteView(x.kdf.salt));
    c[kOpslimit].add(as_integer(x.kdf.opslimit, "kdf opslimit"));
    c[kMemlimit].add(as_integer(x.kdf.memlimit, "kdf memlimit"));
    if (u.ecdh_public_key) c[kEcdhPublicKey].add(ByteView(*u.ecdh_public_key));
    else c[kEcdhPublicKey].add_null();
    if (x.ecdh_key) {
      c[kEcdhOuterBlob].add(ByteView(x.ecdh_key->ciphertext));
      c[kEcdhOuterNonce].add(ByteView(x.ecdh_key->nonce));
    } else {
      c[kEcdhOuterBlob].add_null();
      c[kEcdhOuterNonce].add_null();
    }
    if (u.otp.seed) {
      c[kOtpSeed].add(ByteView(u.otp.seed->ciphertext));
      c[kOtpNonce].add(ByteView(u.otp.seed->nonce));
    } else {
      c[kOtpSeed].add_null();
      c[kOtpNonce].add_null();
    }
    c[kOtpEnrolled].add(std::int64_t{u.otp.enrolled});
    c[kOtpLastStep].add(u.otp.last_step);
    c[kFailures].add(u.failures);
    c[kLocked].add(std::int64_t{u.locked});
    c[kCreated].add(u.created);
    c[kRotated].add(u.rotated);
  }
  Statement st(db_,
               "INSERT INTO users (name, algorithm, public_key, key_version, outer_blob, "
               "outer_nonce, kdf_profile, kdf_salt, kdf_opslimit, kdf_memlimit, ecdh_public_key, "
               "ecdh_outer_blob, ecdh_outer_nonce, otp_seed, otp_nonce, otp_enrolled, "
               "otp_last_step, failures, locked, created, rotated) SELECT * FROM unnest("
               ":name::text[], :algorithm::text[], :public_key::bytea[], :key_version::bigint[], "
               ":outer_blob::bytea[], :outer_nonce::bytea[], :kdf_profile::text[], "
               ":kdf_salt::bytea[], :kdf_opslimit::bigint[], :kdf_memlimit::bigint[], "
               ":ecdh_public_key::bytea[], :ecdh_outer_blob::bytea[], :ecdh_outer_nonce::bytea[], "
               ":otp_seed::bytea[], :otp_nonce::bytea[], :otp_enrolled::bigint[], "
               ":otp_last_step::bigint[], :failures::bigint[], :locked::bigint[], "
               ":created::text[], :rotated::text[]) RETURNING *");
  static constexpr const char* kNames[kColumns] = {
      ":name", ":algorithm", ":public_key", ":key_version", ":outer_blob", ":outer_nonce",
      ":kdf_profile", ":kdf_salt", ":kdf_opslimit", ":kdf_memlimit", ":ecdh_public_key",
      ":ecdh_outer_blob", ":ecdh_outer_nonce", ":otp_seed", ":otp_nonce", ":otp_enrolled",
      ":otp_last_step", ":failures", ":locked", ":created", ":rotated"};
  for (int i = 0; i < kColumns; ++i) st.bind(kNames[i], c[static_cast<std::size_t>(i)].str());
  // The new rows' digests from the rows the insert returns, recorded with one statement.
  bool row = st.insert_returning("one of these users already exists (made by another hsmctl "
                                 "meanwhile); run the same command again to skip it");
  for (; row; row = st.step()) {
    const std::string key = "user/" + st.text("name");
    if (Keystore::state_upkeep_on()) digests.emplace_back(key, inserted_digest(key, "users", st));
  }
  if (digests.size() != users.size() && Keystore::state_upkeep_on())
    fail(Category::general, "internal error: inserting users returned " +
                                std::to_string(digests.size()) + " rows for " +
                                std::to_string(users.size()));
  record_digests(digests);
  tx.commit();
}

std::optional<UserRecord> Keystore::find_user(std::string_view name) {
  Statement st(db_, "SELECT * FROM users WHERE name = :name");
  st.bind(":name", name);
  if (!st.step()) return std::nullopt;
  return read_user(st);
}

std::vector<UserRecord> Keystore::list_users() {
  Statement st(db_, "SELECT * FROM users ORDER BY name");
  std::vector<UserRecord> users;
  while (st.step()) users.push_back(read_user(st));
  return users;
}

std::vector<std::string> Keystore::user_names() {
  Statement st(db_, "SELECT name FROM users ORDER BY name");
  std::vector<std::string> names;
  while (st.step()) names.push_back(st.text("name"));
  return names;
}

void Keystore::update_user_secrets(std::string_view name, const UserSecrets& secrets,
                                   std::string_view rotated) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  Statement st(db_,
               "UPDATE users SET key_version = :key_version, outer_blob = :outer_blob, "
               "outer_nonce = :outer_nonce, kdf_profile = :kdf_profile, kdf_salt = :kdf_salt, "
               "kdf_opslimit = :kdf_opslimit, kdf_memlimit = :kdf_memlimit, "
               "ecdh_outer_blob = :ecdh_outer_blob, ecdh_outer_nonce = :ecdh_outer_nonce, "
               "rotated = :rotated WHERE name = :name");
  bind_secrets(st, secrets);
  st.bind(":rotated", rotated).bind(":name", name).run();
  if (st.changes() == 0) no_user(name);
  touch("user/" + std::string(name));
  tx.commit();
}

void Keystore::delete_user(std::string_view name) {
  Transaction tx(db_);
  before_change("user/" + std::string(name));
  const auto groups = groups_of(name);
  if (!groups.empty()) {
    std::string list;
    for (const auto& g : groups) list += (list.empty() ? "" : ", ") + g;
    fail(Category::general, "user '" + std::string(name) + "' is a member of group(s) " + list +
                                "; remove them with hsmctl group remove first (that rotates " +
                                "the group key)");
  }
  Statement st(db_, "DELETE FROM users WHERE name = :name");
  st.bind(":name", name).run();
  if (st.changes() == 0) no_user(name);
  touch("user/" + std::string(name));
  tx.commit();
}

}  // namespace hsm::keystore
