// The keystore on PostgreSQL through libpq: the connection and its one-line errors, prepared
// statements with ":name" parameters, binary results, the schema dialect and the store URL
// rules. The one place that calls PQ*; it never puts a bound value or a password into a message.
#include "core/keystore/postgres.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace hsm::keystore::pg {

namespace {

// Type OIDs of the columns the keystore reads (pg_type.oid; stable across releases).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26,
              kFloat4 = 700, kFloat8 = 701;

// The keystore's transaction lock: (this number, the schema) of pg_advisory_xact_lock.
constexpr const char* kLockStatement =
    "SELECT pg_advisory_xact_lock(1213418827, hashtext(current_schema()))";

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

// The first line of a libpq message, without the "connection to server ... failed: " preface.
std::string first_line(const char* message) {
  std::string s = message == nullptr ? "" : message;
  if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  if (const auto f = s.find("failed: "); f != std::string::npos) s = s.substr(f + 8);
  if (s.starts_with("FATAL:  ")) s = s.substr(8);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// What went wrong connecting, in a few words, and what to do about it.
std::string connect_advice(const std::string& line) {
  if (line.find("password") != std::string::npos || line.find("authentication") != std::string::npos)
    return "authentication failed; check the role and its password in PGPASSFILE or ~/.pgpass";
  if (line.find("does not exist") != std::string::npos)
    return "the role or database does not exist; create it or fix --store";
  if (line.find("No such file") != std::string::npos ||
      line.find("Connection refused") != std::string::npos ||
      line.find("timeout") != std::string::npos || line.find("translate host") != std::string::npos)
    return "the server is not reachable; check that it runs and the host and port in --store";
  if (line.find("SSL") != std::string::npos || line.find("certificate") != std::string::npos)
    return "the TLS connection failed; check sslmode and the server's certificate";
  return "cannot connect; check --store and the server";
}

std::string field(const PGresult* r, int code) {
  const char* v = r == nullptr ? nullptr : PQresultErrorField(r, code);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

bool is_url(std::string_view store) {
  return store.starts_with("postgresql://") || store.starts_with("postgres://");
}

void check_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    const std::string why = first_line(error);
    PQfreemem(error);
    fail(Category::usage, "the store is not a PostgreSQL connection URL: " + why);
  }
  bool password = false;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o)
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && *o->val != '\0')
      password = true;
  PQconninfoFree(options);
  if (password)
    fail(Category::usage, "the store URL carries a password; remove it and put the password "
                          "in PGPASSFILE or ~/.pgpass (a password in a URL ends up in shell "
                          "histories and process lists)");
}

std::string describe(const std::string& url) {
  std::string host, port, db, user;
  if (PQconninfoOption* options = PQconninfoParse(url.c_str(), nullptr)) {
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      const std::string v = o->val == nullptr ? "" : o->val;
      if (std::strcmp(o->keyword, "host") == 0) host = v;
      else if (std::strcmp(o->keyword, "port") == 0) port = v;
      else if (std::strcmp(o->keyword, "dbname") == 0) db = v;
      else if (std::strcmp(o->keyword, "user") == 0) user = v;
    }
    PQconninfoFree(options);
  }
  if (host.empty()) host = "localhost";
  if (port.empty()) port = "5432";
  if (db.empty()) db = user;
  return "postgresql://" + host + ":" + port + "/" + db;
}

ArrayLiteral& ArrayLiteral::add(std::string_view text) {
  separate();
  text_.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
  return *this;
}

ArrayLiteral& ArrayLiteral::add(ByteView bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  separate();
  text_ += "\"\\\\x";  // bytea's hex input, its backslash escaped for the array
  for (const std::uint8_t b : bytes) {
    text_.push_back(kHex[b >> 4]);
    text_.push_back(kHex[b & 15]);
  }
  text_.push_back('"');
  return *this;
}

ArrayLiteral& ArrayLiteral::add(std::int64_t value) {
  separate();
  text_ += std::to_string(value);
  return *this;
}

ArrayLiteral& ArrayLiteral::add_null() {
  separate();
  text_ += "NULL";
  return *this;
}

std::string translate(std::string_view sql, std::vector<std::string>& names) {
  std::string out;
  out.reserve(sql.size() + 8);
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
  };
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a quoted string or identifier, doubled quotes included
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop;
      continue;
    }
    if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {
      out.append("::");
      i += 2;
      continue;
    }
    if (c == ':' && i + 1 < sql.size() && word(sql[i + 1]) &&
        !(sql[i + 1] >= '0' && sql[i + 1] <= '9')) {
      std::size_t j = i + 1;
      while (j < sql.size() && word(sql[j])) ++j;
      const std::string name(sql.substr(i, j - i));
      std::size_t n = 0;
      while (n < names.size() && names[n] != name) ++n;
      if (n == names.size()) names.push_back(name);
      out += "$" + std::to_string(n + 1);
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

std::string ddl(std::string_view sql) {
  // Whole upper-case words only: the schema's names are lower case.
  std::string out;
  std::size_t i = 0;
  auto upper = [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; };
  while (i < sql.size()) {
    if (!upper(sql[i]) || (i > 0 && (upper(sql[i - 1]) || (sql[i - 1] >= 'a' && sql[i - 1] <= 'z')))) {
      out.push_back(sql[i++]);
      continue;
    }
    std::size_t j = i;
    while (j < sql.size() && upper(sql[j])) ++j;
    const std::string_view w = sql.substr(i, j - i);
    if (w == "INTEGER") out += "BIGINT";
    else if (w == "BLOB") out += "BYTEA";
    else if (w == "TEXT") out += "TEXT COLLATE \"C\"";
    else if (w == "WITHOUT" && sql.substr(j).starts_with(" ROWID")) j += 6;
    else out.append(w);
    i = j;
  }
  // Ids the database assigns: SQLite's INTEGER PRIMARY KEY is the rowid.
  std::string result;
  std::size_t at = 0;
  for (std::size_t f; (f = out.find("BIGINT PRIMARY KEY", at)) != std::string::npos;) {
    std::size_t start = f;
    while (start > 0 && out[start - 1] == ' ') --start;
    const bool is_id = start >= 2 && out.compare(start - 2, 2, "id") == 0 &&
                       (start == 2 || out[start - 3] == ' ' || out[start - 3] == '\n');
    result.append(out, at, f - at);
    result += is_id ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "BIGINT PRIMARY KEY";
    at = f + 18;
  }
  result.append(out, at);
  return result;
}

// ---- Prepared ----

Prepared::~Prepared() { PQclear(result); }

void Prepared::reset() {
  PQclear(result);
  result = nullptr;
  row = -1;
  rows = 0;
  changes = 0;
  for (auto& v : values) v.clear();
  std::fill(is_null.begin(), is_null.end(), 1);
  std::fill(binary.begin(), binary.end(), 0);
}

int Prepared::columns() const { return result == nullptr ? 0 : PQnfields(result); }

ColumnType Prepared::type_at(int index) const {
  if (PQgetisnull(result, row, index)) return ColumnType::null;
  switch (PQftype(result, index)) {
    case kBool: case kInt2: case kInt4: case kInt8: case kOid: return ColumnType::integer;
    case kBytea: return ColumnType::blob;
    case kFloat4: case kFloat8: return ColumnType::real;
    default: return ColumnType::text;
  }
}

std::int64_t Prepared::integer_at(int index) const {
  if (PQgetisnull(result, row, index)) return 0;
  const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(result, row, index));
  const int n = PQgetlength(result, row, index);
  const Oid type = PQftype(result, index);
  if (type == kBool || type == kInt2 || type == kInt4 || type == kInt8 || type == kOid) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
    if (type == kInt2) return static_cast<std::int16_t>(v);
    if (type == kInt4) return static_cast<std::int32_t>(v);
    return static_cast<std::int64_t>(v);
  }
  std::int64_t v = 0;
  const char* s = reinterpret_cast<const char*>(p);
  std::from_chars(s, s + n, v);
  return v;
}

std::string_view Prepared::bytes_at(int index) const {
  if (PQgetisnull(result, row, index)) return {};
  return {PQgetvalue(result, row, index), static_cast<std::size_t>(PQgetlength(result, row, index))};
}

std::string_view Prepared::name_at(int index) const {
  const char* n = result == nullptr ? nullptr : PQfname(result, index);
  return n == nullptr ? std::string_view() : std::string_view(n);
}

// ---- Connection ----

Connection::Connection(const std::string& url) : server_(describe(url)) {
  check_url(url);
  conn_ = PQconnectdb(url.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string line = first_line(conn_ == nullptr ? "out of memory" : PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    hsm::fail(Category::token, "keystore server " + server_ + ": " + connect_advice(line), line);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  exec("SET client_min_messages = warning; SET lock_timeout = '10s'; "
       "SET default_transaction_isolation = 'read committed'", "set up the session");
}

Connection::~Connection() {
  cache_.clear();
  PQfinish(conn_);
}

void Connection::fail(const PGresult* r, std::string_view doing) const {
  const std::string state = field(r, PG_DIAG_SQLSTATE);
  std::string message = field(r, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = first_line(PQerrorMessage(conn_));
  const std::string cause = (state.empty() ? "" : "SQLSTATE " + state + ": ") + message;
  const std::string where = "keystore " + server_ + ": cannot " + std::string(doing);
  if (PQstatus(conn_) == CONNECTION_BAD)
    hsm::fail(Category::token, where + ": the connection to the server was lost; nothing of this "
                               "transaction was kept; rerun when the server is back", cause);
  if (state == "40001" || state == "40P01")
    hsm::fail(Category::general, where + ": a concurrent change conflicted with this one; "
                                 "nothing was changed; rerun", cause);
  if (state == "55P03")
    hsm::fail(Category::general, where + ": another hsmctl process held the keystore for more "
                                 "than 10 s; retry when it has finished", cause);
  if (state == "42501")
    hsm::fail(Category::general, where + ": the database role lacks a privilege on the keystore "
                                 "tables; grant it", cause);
  if (state == "53100")
    hsm::fail(Category::general, where + ": the database server's disk is full", cause);
  hsm::fail(Category::general, where, cause);
}

void Connection::exec(const std::string& sql, std::string_view doing) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const auto status = PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    PQclear(r);
    return;
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> hold(r, PQclear);
  fail(r, doing);
}

void Connection::begin() { exec(std::string("BEGIN; ") + kLockStatement, "begin a transaction"); }

void Connection::rollback(const std::string& sql) noexcept {
  const auto status = PQtransactionStatus(conn_);
  if (status != PQTRANS_INTRANS && status != PQTRANS_INERROR) return;
  PQclear(PQexec(conn_, sql.c_str()));
}

std::unique_ptr<Prepared> Connection::prepare(std::string_view sql) {
  auto p = std::make_unique<Prepared>();
  p->sql = std::string(sql);
  p->name = "hsm" + std::to_string(++next_name_);
  const std::string text = translate(sql, p->params);
  p->values.resize(p->params.size());
  p->is_null.assign(p->params.size(), 1);
  p->binary.assign(p->params.size(), 0);
  PGresult* r = PQprepare(conn_, p->name.c_str(), text.c_str(), 0, nullptr);
  std::unique_ptr<PGresult, void (*)(PGresult*)> hold(r, PQclear);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(r, "prepare " + head_of(sql));
  return p;
}

std::pair<Prepared*, bool> Connection::borrow(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) found = cache_.emplace(std::string(sql), prepare(sql)).first;
  Prepared* p = found->second.get();
  if (!p->in_use) {
    p->in_use = true;
    return {p, false};
  }
  return {prepare(sql).release(), true};
}

void Connection::give_back(Prepared* p, bool own) noexcept {
  if (!own) {
    p->reset();
    p->in_use = false;
    return;
  }
  if (PQtransactionStatus(conn_) != PQTRANS_INERROR)
    PQclear(PQexec(conn_, ("DEALLOCATE " + p->name).c_str()));
  delete p;
}

void Connection::execute(Prepared& p, const std::string* already_exists) {
  const std::size_t n = p.params.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n), formats(n);
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = p.is_null[i] ? nullptr : p.values[i].c_str();
    lengths[i] = static_cast<int>(p.values[i].size());
    formats[i] = p.binary[i];
  }
  PQclear(p.result);
  p.result = PQexecPrepared(conn_, p.name.c_str(), static_cast<int>(n), values.data(),
                            lengths.data(), formats.data(), 1);
  const auto status = PQresultStatus(p.result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    PGresult* r = p.result;
    p.result = nullptr;
    std::unique_ptr<PGresult, void (*)(PGresult*)> hold(r, PQclear);
    if (already_exists != nullptr && field(r, PG_DIAG_SQLSTATE) == "23505")
      hsm::fail(Category::not_found, *already_exists,
                "SQLSTATE 23505: " + field(r, PG_DIAG_MESSAGE_PRIMARY) + " (constraint " +
                    field(r, PG_DIAG_CONSTRAINT_NAME) + ")");
    fail(r, "run " + head_of(p.sql));
  }
  p.rows = PQntuples(p.result);
  p.row = -1;
  const char* tuples = PQcmdTuples(p.result);
  p.changes = tuples == nullptr || *tuples == '\0' ? 0 : std::atol(tuples);
}

}  // namespace hsm::keystore::pg

// ---- the PostgreSQL side of Database and Statement (declared in sqlite.h) ----

namespace hsm::keystore {

Database::Database(const PostgresTarget& target) {
  pg_ = new pg::Connection(target.url);
  path_ = pg_->server();
}

std::string Database::ddl(std::string_view sql) const {
  return pg_ == nullptr ? std::string(sql) : pg::ddl(sql);
}

std::string Database::insertion_order(std::string_view table, std::string_view alias) {
  const std::string prefix = alias.empty() ? "" : std::string(alias) + ".";
  if (pg_ == nullptr) return prefix + "rowid";
  Statement st(*this, "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a "
                      "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
                      "WHERE i.indrelid = to_regclass(:t) AND i.indisprimary "
                      "ORDER BY array_position(i.indkey::int2[], a.attnum)");
  st.bind(":t", table);
  std::string order;
  while (st.step()) order += (order.empty() ? "" : ", ") + prefix + st.text("name");
  if (order.empty()) hsm::fail(Category::general, "internal error: table " + std::string(table) +
                                                      " has no primary key");
  return order;
}

int Statement::pg_parameter(const char* name) const {
  const auto& params = pgp_->params;
  if (next_param_ < params.size() && params[next_param_] == name) return static_cast<int>(++next_param_);
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i] == name) {
      next_param_ = i + 1;
      return static_cast<int>(i + 1);
    }
  hsm::fail(Category::general, std::string("internal error: no parameter ") + name + " in " +
                                   pg::head_of(sql_));
}

void Statement::pg_bind(int index, const char* data, std::size_t size, bool binary) {
  if (pgp_->result != nullptr) {  // new values for the next run
    PQclear(pgp_->result);
    pgp_->result = nullptr;
  }
  const auto i = static_cast<std::size_t>(index - 1);
  pgp_->is_null[i] = data == nullptr;
  pgp_->binary[i] = binary;
  pgp_->values[i].assign(data == nullptr ? "" : data, data == nullptr ? 0 : size);
}

bool Statement::pg_step(const std::string* already_exists) {
  // Like sqlite3_step: a statement that has finished runs again with the same values.
  if (pgp_->result == nullptr || pgp_->row >= pgp_->rows) db_.pg_->execute(*pgp_, already_exists);
  ++pgp_->row;
  return pgp_->row < pgp_->rows;
}

int Statement::pg_column(const char* name) const {
  const int n = pgp_->columns();
  for (int i = 0; i < n; ++i)
    if (pgp_->name_at(i) == name) return i;
  hsm::fail(Category::general,
            std::string("internal error: no column ") + name + " in " + pg::head_of(sql_));
}

bool Statement::pg_is_null(int index) const { return pgp_->type_at(index) == ColumnType::null; }

}  // namespace hsm::keystore
