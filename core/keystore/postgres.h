// The PostgreSQL side of the keystore's database seam (sqlite.h): one libpq connection, its
// prepared statements (":name" parameters translated to "$N" once per statement text, bytea
// bound and every column read in binary), the schema dialect, and the store URL rules (no
// password in it; errors name the server, never the password, and never dump libpq's text).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/keystore/sqlite.h"

struct pg_conn;
struct pg_result;

namespace hsm::keystore::pg {

// True for "postgresql://..." and "postgres://..." (the only store URLs besides the default).
bool is_url(std::string_view store);
// Error(usage) for a URL libpq cannot parse or that carries a password (passwords come from
// PGPASSFILE/.pgpass or PGPASSWORD, never argv or hsmctl.toml).
void check_url(const std::string& url);
// "postgresql://HOST:PORT/DB" of a URL, for messages (never user or password).
std::string describe(const std::string& url);

// Many rows' values of one column as one text parameter, a PostgreSQL array literal ("{...}"):
// a statement casts it (":names::text[]") and unnests it, so a batch of rows is one round trip
// instead of one per row (user provision's chunks, the state tables). Values are quoted and
// escaped; bytes go as bytea's hex input.
class ArrayLiteral {
 public:
  ArrayLiteral& add(std::string_view text);
  ArrayLiteral& add(ByteView bytes);
  ArrayLiteral& add(std::int64_t value);
  ArrayLiteral& add_null();
  template <class T>
  ArrayLiteral& add(const std::optional<T>& value) {
    return value ? add(*value) : add_null();
  }
  std::string str() const { return text_ + "}"; }

 private:
  void separate() {
    if (text_.size() > 1) text_.push_back(',');
  }
  std::string text_ = "{";
};

// ":name" -> "$N": the text PostgreSQL prepares and each name's number (index + 1). Quoted
// strings and identifiers are copied as they are; "::" casts are left alone.
std::string translate(std::string_view sql, std::vector<std::string>& names);
// SQLite schema text in PostgreSQL's dialect (Database::ddl).
std::string ddl(std::string_view sql);

// One prepared statement and, while a Statement uses it, its bound values and last result.
struct Prepared {
  std::string name;                 // the server-side prepared statement
  std::string sql;                  // the text as the keystore wrote it (messages, cache key)
  std::vector<std::string> params;  // ":name" of $1, $2, ...
  bool in_use = false;
  std::vector<std::string> values;
  std::vector<char> is_null, binary;
  pg_result* result = nullptr;
  int row = -1, rows = 0;
  long changes = 0;

  ~Prepared();
  void reset();  // drops the result and the bindings
  int columns() const;
  ColumnType type_at(int index) const;
  std::int64_t integer_at(int index) const;
  std::string_view bytes_at(int index) const;  // text and bytea alike (binary results)
  std::string_view name_at(int index) const;
};

class Connection {
 public:
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  pg_conn* handle() const noexcept { return conn_; }
  const std::string& server() const noexcept { return server_; }
  // Simple-protocol statements without parameters (may be several); a failure is an Error.
  void exec(const std::string& sql, std::string_view doing);
  // BEGIN, then the keystore's transaction lock (one writer at a time, as SQLite's BEGIN
  // IMMEDIATE: docs/design.md "PostgreSQL keystore").
  void begin();
  // Rolls back unless the server has already (a failed COMMIT, a broken connection).
  void rollback(const std::string& sql) noexcept;
  // The cached statement for `sql`, or (when that one is in use) a new one of the caller's own.
  std::pair<Prepared*, bool> borrow(std::string_view sql);
  void give_back(Prepared* p, bool own) noexcept;
  // Runs `p` with its bound values.
  void execute(Prepared& p, const std::string* already_exists);
  [[noreturn]] void fail(const pg_result* r, std::string_view doing) const;

 private:
  std::unique_ptr<Prepared> prepare(std::string_view sql);
  pg_conn* conn_ = nullptr;
  std::string server_;
  int next_name_ = 0;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<Prepared>, Hash, std::equal_to<>> cache_;
};

}  // namespace hsm::keystore::pg
