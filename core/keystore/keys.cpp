// Signing-key records (tables keys and revocations): public keys, birth-escrow blobs wrapped
// under MK-wrap or QK, quorum policy, CRL numbers. Never a private key in the clear.
#include "core/error.h"
#include "core/keystore/keystore.h"

namespace hsm::keystore {

namespace {

[[noreturn]] void no_key(std::string_view label) {
  fail(Category::not_found, "key '" + std::string(label) + "' not found");
}

KeyRecord read_key(const Statement& st) {
  return {
      .label = st.text("label"),
      .key_id = st.text("key_id"),
      .algorithm = st.text("algorithm"),
      .purpose = st.text("purpose"),
      .quorum = static_cast<int>(st.integer("quorum")),
      .escrow = st.text("escrow"),
      .wrapped_key = st.optional_blob("wrapped_key"),
      .public_key = st.blob("public_key"),
      .created = st.text("created"),
      .crl_number = st.integer("crl_number"),
      .status = st.text("status"),
  };
}

}  // namespace

void Keystore::insert_key(const KeyRecord& key) {
  Transaction tx(db_);
  before_change("key/" + key.label);
  Statement st(db_,
               "INSERT INTO keys (label, key_id, algorithm, purpose, quorum, escrow, wrapped_key, "
               "public_key, created, crl_number, status) VALUES (:label, :key_id, :algorithm, "
               ":purpose, :quorum, :escrow, :wrapped_key, :public_key, :created, :crl_number, "
               ":status)");
  st.bind(":label", key.label)
      .bind(":key_id", key.key_id)
      .bind(":algorithm", key.algorithm)
      .bind(":purpose", key.purpose)
      .bind(":quorum", key.quorum)
      .bind(":escrow", key.escrow)
      .bind(":wrapped_key", key.wrapped_key)
      .bind(":public_key", ByteView(key.public_key))
      .bind(":created", key.created)
      .bind(":crl_number", key.crl_number)
      .bind(":status", key.status);
  try {
    st.insert("key '" + key.label + "' already exists");
  } catch (const Error& e) {
    // The UNIQUE (key_id) constraint as SQLite and PostgreSQL name it.
    if (e.category() == Category::not_found &&
        (e.cause().find("keys.key_id") != std::string::npos ||
         e.cause().find("keys_key_id_key") != std::string::npos))
      fail(Category::not_found, "key id " + key.key_id + " is already used by another key",
           e.cause());
    throw;
  }
  touch("key/" + key.label);
  tx.commit();
}

std::optional<KeyRecord> Keystore::find_key(std::string_view label) {
  Statement st(db_, "SELECT * FROM keys WHERE label = :label");
  st.bind(":label", label);
  if (!st.step()) return std::nullopt;
  return read_key(st);
}

std::vector<KeyRecord> Keystore::list_keys() {
  Statement st(db_, "SELECT * FROM keys ORDER BY label");
  std::vector<KeyRecord> keys;
  while (st.step()) keys.push_back(read_key(st));
  return keys;
}

void Keystore::set_key_status(std::string_view label, std::string_view status) {
  Transaction tx(db_);
  before_change("key/" + std::string(label));
  Statement st(db_, "UPDATE keys SET status = :status WHERE label = :label");
  st.bind(":status", status).bind(":label", label).run();
  if (st.changes() == 0) no_key(label);
  touch("key/" + std::string(label));
  tx.commit();
}

std::int64_t Keystore::next_crl_number(std::string_view label) {
  Transaction tx(db_);
  before_change("key/" + std::string(label));
  // One statement: two processes signing CRLs with the same key never get the same number.
  Statement st(db_,
               "UPDATE keys SET crl_number = crl_number + 1 WHERE label = :label "
               "RETURNING crl_number");
  st.bind(":label", label);
  if (!st.step()) no_key(label);
  const std::int64_t number = st.integer("crl_number");
  st.run();
  touch("key/" + std::string(label));
  tx.commit();
  return number;
}

void Keystore::add_revocation(std::string_view key_label, const Revocation& revocation) {
  Transaction tx(db_);
  before_change("key/" + std::string(key_label));
  Statement st(db_,
               "INSERT INTO revocations (issuer, serial, reason, revoked) "
               "SELECT id, :serial, :reason, :revoked FROM keys WHERE label = :label");
  st.bind(":serial", revocation.serial)
      .bind(":reason", revocation.reason)
      .bind(":revoked", revocation.revoked)
      .bind(":label", key_label)
      .insert("certificate " + revocation.serial + " is already revoked by key '" +
              std::string(key_label) + "'");
  if (st.changes() == 0) no_key(key_label);
  touch("key/" + std::string(key_label));
  tx.commit();
}

std::vector<Revocation> Keystore::list_revocations(std::string_view key_label) {
  if (!find_key(key_label)) no_key(key_label);
  Statement st(db_,
               "SELECT r.* FROM revocations r JOIN keys k ON k.id = r.issuer "
               "WHERE k.label = :label ORDER BY " + db_.insertion_order("revocations", "r"));
  st.bind(":label", key_label);
  std::vector<Revocation> out;
  while (st.step())
    out.push_back({.serial = st.text("serial"), .reason = st.text("reason"),
                   .revoked = st.text("revoked")});
  return out;
}

}  // namespace hsm::keystore
