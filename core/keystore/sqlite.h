// The keystore's database seam: a Database connection, Statements that bind parameters by name
// and read columns by name, and nestable Transactions, over two backends: SQLite (a file in the
// workspace, the default) and PostgreSQL through libpq (core/keystore/postgres.{h,cpp}). Every
// failure becomes an hsm::Error; nothing here may log or format a bound value (blobs are
// wrapped keys).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/bytes.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hsm::keystore {

class Keystore;
namespace pg {
class Connection;
struct Prepared;
}  // namespace pg

enum class Backend { sqlite, postgresql };

// A column value's type, backend-neutral. The numbers are SQLite's (SQLITE_INTEGER ...): the
// keystore state digests hash them, so they must never change.
enum class ColumnType { integer = 1, real = 2, text = 3, blob = 4, null = 5 };

// A PostgreSQL keystore: a libpq connection URL without a password (core/keystore/postgres.h).
struct PostgresTarget {
  std::string url;
};

// "SQLITE_CONSTRAINT_UNIQUE" for an (extended) result code; the cause text of every Error here.
std::string sqlite_code_name(int rc);

// One connection. Opens an existing file read-write and never creates it: Keystore creates the
// file itself (0600, O_EXCL) so SQLite never picks its mode.
class Database {
 public:
  explicit Database(const std::filesystem::path& file);
  // Connects to PostgreSQL; a failure is Error(token) naming the server (never the password).
  explicit Database(const PostgresTarget& target);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows (pragmas, migration scripts).
  void exec(const std::string& sql);
  // PRAGMA journal_mode = WAL, retried while another connection holds the file. SQLite does not
  // call the busy handler for this switch (it upgrades a read transaction to a write one, which
  // would deadlock), so processes opening a brand-new keystore at once would otherwise fail
  // at once with SQLITE_BUSY. Returns the journal mode the file ends in.
  std::string switch_to_wal();
  // Throws Error(general) naming the file, what was being done, and the SQLite code and message.
  [[noreturn]] void fail(int rc, std::string_view doing) const;

  // The schema text `sql` (written for SQLite) in this backend's dialect: as it is for SQLite;
  // for PostgreSQL BIGINT, BYTEA, TEXT COLLATE "C" (byte order, as SQLite compares), identity
  // ids, no WITHOUT ROWID.
  std::string ddl(std::string_view sql) const;
  // What orders a table's rows as they were inserted: "rowid" on SQLite; on PostgreSQL the
  // table's primary key columns (prefixed "alias.").
  std::string insertion_order(std::string_view table, std::string_view alias = {});

  Backend backend() const noexcept { return pg_ == nullptr ? Backend::sqlite : Backend::postgresql; }
  bool is_postgres() const noexcept { return pg_ != nullptr; }
  sqlite3* handle() const noexcept { return db_; }
  pg::Connection* pg() const noexcept { return pg_; }
  // The file, or for PostgreSQL the server and database ("postgresql://HOST:PORT/DB").
  const std::string& path() const noexcept { return path_; }
  bool in_transaction() const noexcept { return depth_ > 0; }
  // Runs `hook` inside every outermost transaction just before its COMMIT (the keystore
  // brings its state tables up to date there, in the same commit); a throw aborts the commit.
  void on_before_commit(std::function<void()> hook) { before_commit_ = std::move(hook); }
  // Runs `hook` after a savepoint (a nested Transaction) is rolled back: what the keystore
  // keeps in memory of the rows it changed may no longer hold.
  void on_savepoint_rollback(std::function<void()> hook) { savepoint_rollback_ = std::move(hook); }
  // Run after every committed and every rolled-back outermost transaction (SQLite's commit and
  // rollback hooks; PostgreSQL: after COMMIT and ROLLBACK of a Transaction). Null: none.
  void on_commit(std::function<void()> hook);
  void on_rollback(std::function<void()> hook);

 private:
  friend class Transaction;
  friend class Statement;
  // Prepared statements are kept for reuse (batch provisioning inserts thousands of rows): a
  // Statement borrows one from the cache and hands it back, reset, when it is destroyed. With
  // it go the parameter indices its binds looked up, in the order they were bound.
  struct Prepared {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
    std::vector<std::pair<std::string, int>> params;
  };
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // The cached statement for `sql`, marked in use, and its cache key; a null Prepared if it is
  // in use already (a Statement nested in another of the same text): the caller prepares its
  // own.
  std::pair<const std::string*, Prepared*> borrow_statement(std::string_view sql);
  sqlite3_stmt* prepare(std::string_view sql);

  sqlite3* db_ = nullptr;
  pg::Connection* pg_ = nullptr;  // owned; set for a PostgreSQL keystore
  std::string path_;
  std::function<void()> commit_hook_, rollback_hook_;
  int depth_ = 0;  // open Transactions: 0 none, 1 BEGIN IMMEDIATE, >1 savepoints
  std::function<void()> before_commit_;
  std::function<void()> savepoint_rollback_;
  std::unordered_map<std::string, Prepared, SqlHash, std::equal_to<>> cache_;
};

// One prepared statement. Parameters are bound by name (":name"), columns read by name.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  template <std::integral T>
  Statement& bind(const char* name, T value) {
    return bind_integer(name, static_cast<std::int64_t>(value));
  }
  Statement& bind(const char* name, std::string_view text);
  Statement& bind(const char* name, ByteView blob);
  Statement& bind(const char* name, std::nullptr_t);
  template <class T>
  Statement& bind(const char* name, const std::optional<T>& value) {
    return value ? bind(name, *value) : bind(name, nullptr);
  }

  // True when a row is ready to read, false when the statement has finished.
  bool step();
  // Steps to the end, ignoring any rows.
  void run();
  // Like run(), but a UNIQUE or PRIMARY KEY violation throws Error(not_found, already_exists):
  // category not_found is also "already exists" (exit 7).
  void insert(const std::string& already_exists);
  // insert() of an INSERT ... RETURNING statement, stopped at its row: true when the row is
  // there to read; finish() completes the statement once it is read.
  bool insert_returning(const std::string& already_exists);
  void finish();
  // Rows changed by the last run()/insert().
  int changes() const;
  // Ready to run again with new bindings.
  void reset();

  bool is_null(const char* column) const;
  std::int64_t integer(const char* column) const;
  std::string text(const char* column) const;
  Bytes blob(const char* column) const;
  std::optional<Bytes> optional_blob(const char* column) const;

  // Positional access, for the table-generic export.
  int column_count() const;
  std::string column_name(int index) const;
  ColumnType column_type(int index) const;
  std::int64_t integer_at(int index) const;
  std::string text_at(int index) const;
  Bytes blob_at(int index) const;
  // Views of the current row's values and of a column's name: valid until the next step(),
  // reset or bind of this statement (no copy, for hashing many small fields).
  std::string_view column_name_view(int index) const;
  std::string_view text_view_at(int index) const;
  ByteView blob_view_at(int index) const;

 private:
  Statement& bind_integer(const char* name, std::int64_t value);
  int parameter(const char* name) const;
  int column(const char* name) const;
  [[noreturn]] void fail(int rc) const;
  // The PostgreSQL side of each operation (postgres.cpp).
  void pg_bind(int index, const char* data, std::size_t size, bool binary);
  int pg_parameter(const char* name) const;
  bool pg_step(const std::string* already_exists);
  int pg_column(const char* name) const;
  bool pg_is_null(int index) const;

  Database& db_;
  std::string_view sql_;              // the cache's key, or own_sql_
  std::string own_sql_;               // only when not cached
  Database::Prepared* cached_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  pg::Prepared* pgp_ = nullptr;       // PostgreSQL: the prepared statement and its last result
  bool pg_own_ = false;               // pgp_ is this Statement's own, not the cache's
  mutable std::size_t next_param_ = 0;  // binds usually come in the same order each time
};

// BEGIN IMMEDIATE ... COMMIT, or a SAVEPOINT when one is already open, so functions that make
// several changes can be atomic on their own and still compose into a caller's transaction.
// Rolls back in the destructor unless commit() succeeded. Destroy in reverse order of creation.
class Transaction {
 public:
  explicit Transaction(Database& db);
  explicit Transaction(Keystore& keystore);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Database& db_;
  int level_;
  bool done_ = false;
};

}  // namespace hsm::keystore
