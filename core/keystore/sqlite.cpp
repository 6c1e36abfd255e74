// Database, Statement and Transaction over the SQLite C API, with a branch to the PostgreSQL
// side (postgres.cpp) where a Database is one. The one place that calls sqlite3_* and turns
// result codes into hsm::Error; it never puts a bound value into a message.
#include "core/keystore/sqlite.h"

#include <sqlite3.h>

#include "core/keystore/postgres.h"

#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "core/error.h"

namespace hsm::keystore {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

// The start of a statement with whitespace collapsed: enough to say what failed.
std::string head_of(std::string_view sql) {
  std::string out;
  for (char c : sql) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out.push_back(space ? ' ' : c);
    if (out.size() >= 48) return out + "...";
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What to tell the user to do about a failure, by primary result code.
const char* advice_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ": another hsmctl process held the keystore for more than 10 s; retry when it has "
             "finished";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return ": check that the file and its directory are writable by you";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ": the file is damaged or not a keystore; restore it from a backup";
    case SQLITE_FULL:
      return ": the disk is full";
    default:
      return "";
  }
}

}  // namespace

std::string sqlite_code_name(int rc) {
  static const std::pair<int, const char*> kNames[] = {
      {SQLITE_OK, "SQLITE_OK"}, {SQLITE_ERROR, "SQLITE_ERROR"},
      {SQLITE_INTERNAL, "SQLITE_INTERNAL"}, {SQLITE_PERM, "SQLITE_PERM"},
      {SQLITE_ABORT, "SQLITE_ABORT"}, {SQLITE_BUSY, "SQLITE_BUSY"},
      {SQLITE_LOCKED, "SQLITE_LOCKED"}, {SQLITE_NOMEM, "SQLITE_NOMEM"},
      {SQLITE_READONLY, "SQLITE_READONLY"}, {SQLITE_INTERRUPT, "SQLITE_INTERRUPT"},
      {SQLITE_IOERR, "SQLITE_IOERR"}, {SQLITE_CORRUPT, "SQLITE_CORRUPT"},
      {SQLITE_NOTFOUND, "SQLITE_NOTFOUND"}, {SQLITE_FULL, "SQLITE_FULL"},
      {SQLITE_CANTOPEN, "SQLITE_CANTOPEN"}, {SQLITE_PROTOCOL, "SQLITE_PROTOCOL"},
      {SQLITE_SCHEMA, "SQLITE_SCHEMA"}, {SQLITE_TOOBIG, "SQLITE_TOOBIG"},
      {SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT"}, {SQLITE_MISMATCH, "SQLITE_MISMATCH"},
      {SQLITE_MISUSE, "SQLITE_MISUSE"}, {SQLITE_NOLFS, "SQLITE_NOLFS"},
      {SQLITE_AUTH, "SQLITE_AUTH"}, {SQLITE_RANGE, "SQLITE_RANGE"},
      {SQLITE_NOTADB, "SQLITE_NOTADB"}, {SQLITE_ROW, "SQLITE_ROW"}, {SQLITE_DONE, "SQLITE_DONE"},
      {SQLITE_BUSY_SNAPSHOT, "SQLITE_BUSY_SNAPSHOT"}, {SQLITE_BUSY_TIMEOUT, "SQLITE_BUSY_TIMEOUT"},
      {SQLITE_READONLY_DBMOVED, "SQLITE_READONLY_DBMOVED"},
      {SQLITE_CONSTRAINT_CHECK, "SQLITE_CONSTRAINT_CHECK"},
      {SQLITE_CONSTRAINT_FOREIGNKEY, "SQLITE_CONSTRAINT_FOREIGNKEY"},
      {SQLITE_CONSTRAINT_NOTNULL, "SQLITE_CONSTRAINT_NOTNULL"},
      {SQLITE_CONSTRAINT_PRIMARYKEY, "SQLITE_CONSTRAINT_PRIMARYKEY"},
      {SQLITE_CONSTRAINT_TRIGGER, "SQLITE_CONSTRAINT_TRIGGER"},
      {SQLITE_CONSTRAINT_UNIQUE, "SQLITE_CONSTRAINT_UNIQUE"},
      {SQLITE_CONSTRAINT_DATATYPE, "SQLITE_CONSTRAINT_DATATYPE"},
  };
  for (const auto& [code, name] : kNames)
    if (code == rc) return name;
  for (const auto& [code, name] : kNames)
    if (code == (rc & 0xff)) return std::string(name) + " (extended " + std::to_string(rc) + ")";
  return "SQLITE_" + std::to_string(rc);
}

// ---- Database ----

Database::Database(const std::filesystem::path& file) : path_(file.string()) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string cause = sqlite_code_name(rc) + ": " +
                              (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    hsm::fail(Category::general, "keystore " + path_ + ": cannot open" + advice_for(rc), cause);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // A keystore file comes from disk and may have been edited: no schema-defined functions,
  // no writes to sqlite_schema.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
}

Database::~Database() {
  if (pg_ != nullptr) {
    delete pg_;
    return;
  }
  for (const auto& [sql, prepared] : cache_) sqlite3_finalize(prepared.stmt);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "prepare " + head_of(sql));
  return stmt;
}

std::pair<const std::string*, Database::Prepared*> Database::borrow_statement(
    std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    sqlite3_stmt* stmt = prepare(sql);
    try {
      found = cache_.emplace(std::string(sql), Prepared{stmt, false, {}}).first;
    } catch (...) {
      sqlite3_finalize(stmt);
      throw;
    }
  }
  if (found->second.in_use) return {&found->first, nullptr};
  found->second.in_use = true;
  return {&found->first, &found->second};
}

void Database::on_commit(std::function<void()> hook) {
  commit_hook_ = std::move(hook);
  if (pg_ != nullptr) return;
  if (commit_hook_)
    sqlite3_commit_hook(db_, [](void* self) {
      static_cast<Database*>(self)->commit_hook_();
      return 0;
    }, this);
  else
    sqlite3_commit_hook(db_, nullptr, nullptr);
}

void Database::on_rollback(std::function<void()> hook) {
  rollback_hook_ = std::move(hook);
  if (pg_ != nullptr) return;
  if (rollback_hook_)
    sqlite3_rollback_hook(db_, [](void* self) { static_cast<Database*>(self)->rollback_hook_(); },
                          this);
  else
    sqlite3_rollback_hook(db_, nullptr, nullptr);
}

void Database::exec(const std::string& sql) {
  if (pg_ != nullptr) return pg_->exec(sql, "run " + head_of(sql));
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) fail(sqlite3_extended_errcode(db_), "run " + head_of(sql));
}

std::string Database::switch_to_wal() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    std::string mode;
    const auto keep = [](void* out, int columns, char** values, char**) {
      if (columns > 0 && values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
      return 0;
    };
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, "PRAGMA journal_mode = WAL", keep, &mode, &message);
    sqlite3_free(message);
    if (rc == SQLITE_OK) return mode;
    const int code = sqlite3_extended_errcode(db_);
    if ((code & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline)
      fail(code, "run PRAGMA journal_mode = WAL");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Database::fail(int rc, std::string_view doing) const {
  hsm::fail(Category::general,
            "keystore " + path_ + ": cannot " + std::string(doing) + advice_for(rc),
            sqlite_code_name(rc) + ": " + sqlite3_errmsg(db_));
}

// ---- Statement ----

Statement::Statement(Database& db, std::string_view sql) : db_(db), sql_(sql) {
  if (db.pg_ != nullptr) {
    const auto [prepared, own] = db.pg_->borrow(sql);
    pgp_ = prepared;
    pg_own_ = own;
    sql_ = pgp_->sql;
    return;
  }
  const auto [key, cached] = db.borrow_statement(sql);
  cached_ = cached;
  if (cached_ != nullptr) {
    stmt_ = cached_->stmt;
    sql_ = *key;  // the cache's key outlives this Statement; `sql` may not
  } else {
    own_sql_ = std::string(sql);
    sql_ = own_sql_;
    stmt_ = db.prepare(sql_);
  }
}

Statement::~Statement() {
  if (pgp_ != nullptr) {
    db_.pg_->give_back(pgp_, pg_own_);
    return;
  }
  if (cached_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  cached_->in_use = false;
}

int Statement::parameter(const char* name) const {
  if (pgp_ != nullptr) return pg_parameter(name);
  if (cached_ != nullptr) {
    auto& params = cached_->params;
    if (next_param_ < params.size() && params[next_param_].first == name)
      return params[next_param_++].second;
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].first == name) {
        next_param_ = i + 1;
        return params[i].second;
      }
  }
  const int index = sqlite3_bind_parameter_index(stmt_, name);
  if (index == 0)
    hsm::fail(Category::general, std::string("internal error: no parameter ") + name + " in " +
                                     head_of(sql_));
  if (cached_ != nullptr) {
    cached_->params.emplace_back(name, index);
    next_param_ = cached_->params.size();
  }
  return index;
}

Statement& Statement::bind_integer(const char* name, std::int64_t value) {
  if (pgp_ != nullptr) {
    const std::string text = std::to_string(value);
    pg_bind(parameter(name), text.data(), text.size(), false);
    return *this;
  }
  const int rc = sqlite3_bind_int64(stmt_, parameter(name), value);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(const char* name, std::string_view text) {
  if (pgp_ != nullptr) {
    pg_bind(parameter(name), text.data(), text.size(), false);
    return *this;
  }
  const int rc = sqlite3_bind_text64(stmt_, parameter(name), text.data(), text.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(const char* name, ByteView blob) {
  // A zero-length blob is still a blob, not NULL: SQLite needs a non-null pointer for that.
  static const std::uint8_t kEmpty = 0;
  if (pgp_ != nullptr) {
    pg_bind(parameter(name), reinterpret_cast<const char*>(blob.empty() ? &kEmpty : blob.data()),
            blob.size(), true);
    return *this;
  }
  const void* data = blob.empty() ? &kEmpty : blob.data();
  const int rc = sqlite3_bind_blob64(stmt_, parameter(name), data, blob.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(const char* name, std::nullptr_t) {
  if (pgp_ != nullptr) {
    pg_bind(parameter(name), nullptr, 0, false);
    return *this;
  }
  const int rc = sqlite3_bind_null(stmt_, parameter(name));
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

bool Statement::step() {
  if (pgp_ != nullptr) return pg_step(nullptr);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::insert(const std::string& already_exists) {
  if (pgp_ != nullptr) {
    while (pg_step(&already_exists)) {
    }
    return;
  }
  int rc = SQLITE_ROW;
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt_);
  if (rc == SQLITE_DONE) return;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    hsm::fail(Category::not_found, already_exists,
              sqlite_code_name(rc) + ": " + sqlite3_errmsg(db_.handle()));
  fail(rc);
}

bool Statement::insert_returning(const std::string& already_exists) {
  if (pgp_ != nullptr) return pg_step(&already_exists);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    hsm::fail(Category::not_found, already_exists,
              sqlite_code_name(rc) + ": " + sqlite3_errmsg(db_.handle()));
  fail(rc);
}

void Statement::finish() { run(); }

int Statement::changes() const {
  if (pgp_ != nullptr) return static_cast<int>(pgp_->changes);
  return sqlite3_changes(db_.handle());
}

void Statement::reset() {
  if (pgp_ != nullptr) {
    pgp_->reset();
    next_param_ = 0;
    return;
  }
  sqlite3_reset(stmt_);  // returns the last step's error, already reported by step()
  sqlite3_clear_bindings(stmt_);
  next_param_ = 0;
}

void Statement::fail(int rc) const { db_.fail(rc, "run " + head_of(sql_)); }

int Statement::column(const char* name) const {
  if (pgp_ != nullptr) return pg_column(name);
  const int n = sqlite3_column_count(stmt_);
  for (int i = 0; i < n; ++i)
    if (std::strcmp(sqlite3_column_name(stmt_, i), name) == 0) return i;
  hsm::fail(Category::general,
            std::string("internal error: no column ") + name + " in " + head_of(sql_));
}

bool Statement::is_null(const char* name) const {
  if (pgp_ != nullptr) return pg_is_null(column(name));
  return sqlite3_column_type(stmt_, column(name)) == SQLITE_NULL;
}
std::int64_t Statement::integer(const char* name) const { return integer_at(column(name)); }
std::string Statement::text(const char* name) const { return text_at(column(name)); }
Bytes Statement::blob(const char* name) const { return blob_at(column(name)); }
std::optional<Bytes> Statement::optional_blob(const char* name) const {
  const int i = column(name);
  if (column_type(i) == ColumnType::null) return std::nullopt;
  return blob_at(i);
}

int Statement::column_count() const {
  if (pgp_ != nullptr) return pgp_->columns();
  return sqlite3_column_count(stmt_);
}
std::string Statement::column_name(int index) const {
  return std::string(column_name_view(index));
}
ColumnType Statement::column_type(int index) const {
  if (pgp_ != nullptr) return pgp_->type_at(index);
  return static_cast<ColumnType>(sqlite3_column_type(stmt_, index));
}
std::int64_t Statement::integer_at(int index) const {
  if (pgp_ != nullptr) return pgp_->integer_at(index);
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::text_at(int index) const {
  if (pgp_ != nullptr) return std::string(pgp_->bytes_at(index));
  const auto* p = sqlite3_column_text(stmt_, index);
  const int n = sqlite3_column_bytes(stmt_, index);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

Bytes Statement::blob_at(int index) const {
  if (pgp_ != nullptr) {
    const std::string_view b = pgp_->bytes_at(index);
    return Bytes(b.begin(), b.end());
  }
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int n = sqlite3_column_bytes(stmt_, index);
  return p == nullptr ? Bytes() : Bytes(p, p + n);
}

std::string_view Statement::column_name_view(int index) const {
  if (pgp_ != nullptr) return pgp_->name_at(index);
  const char* name = sqlite3_column_name(stmt_, index);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

std::string_view Statement::text_view_at(int index) const {
  if (pgp_ != nullptr) return pgp_->bytes_at(index);
  const auto* p = sqlite3_column_text(stmt_, index);
  const int n = sqlite3_column_bytes(stmt_, index);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

ByteView Statement::blob_view_at(int index) const {
  if (pgp_ != nullptr) {
    const std::string_view b = pgp_->bytes_at(index);
    return ByteView(reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
  }
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int n = sqlite3_column_bytes(stmt_, index);
  return p == nullptr ? ByteView() : ByteView(p, static_cast<std::size_t>(n));
}

// ---- Transaction ----

Transaction::Transaction(Database& db) : db_(db), level_(db.depth_ + 1) {
  if (level_ == 1 && db_.pg_ != nullptr) db_.pg_->begin();  // BEGIN and the keystore's lock
  else db_.exec(level_ == 1 ? "BEGIN IMMEDIATE" : "SAVEPOINT hsm_" + std::to_string(level_));
  db_.depth_ = level_;
}

void Transaction::commit() {
  if (done_) return;
  if (level_ == 1 && db_.before_commit_) db_.before_commit_();
  if (level_ == 1 && db_.pg_ != nullptr) {
    // A failed COMMIT has rolled back: the destructor reports it as one.
    db_.pg_->exec("COMMIT", "commit");
    done_ = true;
    db_.depth_ = 0;
    if (db_.commit_hook_) db_.commit_hook_();
    return;
  }
  db_.exec(level_ == 1 ? "COMMIT" : "RELEASE hsm_" + std::to_string(level_));
  done_ = true;
  db_.depth_ = level_ - 1;
}

Transaction::~Transaction() {
  if (done_) return;
  db_.depth_ = level_ - 1;
  if (db_.pg_ != nullptr) {
    const std::string sp = "hsm_" + std::to_string(level_);
    db_.pg_->rollback(level_ == 1 ? "ROLLBACK" : "ROLLBACK TO " + sp + "; RELEASE " + sp);
    if (level_ == 1 && db_.rollback_hook_) db_.rollback_hook_();
    if (level_ > 1 && db_.savepoint_rollback_) db_.savepoint_rollback_();
    return;
  }
  // Some errors (disk full, I/O) make SQLite roll back on its own; then there is nothing to undo.
  if (sqlite3_get_autocommit(db_.handle()) != 0) return;
  const std::string sp = "hsm_" + std::to_string(level_);
  const std::string sql = level_ == 1 ? "ROLLBACK" : "ROLLBACK TO " + sp + "; RELEASE " + sp;
  sqlite3_exec(db_.handle(), sql.c_str(), nullptr, nullptr, nullptr);
  if (level_ > 1 && db_.savepoint_rollback_) db_.savepoint_rollback_();
}

}  // namespace hsm::keystore
