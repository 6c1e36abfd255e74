// The whole keystore as one JSON document (for backup files) and back. Table-generic, driven by
// the schema's declared column types, so a new migration is exported without changes here.
// Blobs are already wrapped or public; this file must never unwrap or interpret them.
#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/keystore/keystore.h"
#include "core/keystore/schema.h"

namespace hsm::keystore {

namespace {

using nlohmann::json;

constexpr const char* kFormat = "hsmctl-keystore";

struct Column {
  std::string name;
  std::string type;  // declared type: INTEGER, TEXT or BLOB
};

std::vector<Column> columns_of(Database& db, std::string_view table) {
  std::vector<Column> columns;
  if (db.is_postgres()) {  // the types the dialect made of INTEGER, TEXT and BLOB
    Statement st(db, "SELECT column_name AS name, CASE data_type WHEN 'bigint' THEN 'INTEGER' "
                     "WHEN 'bytea' THEN 'BLOB' ELSE 'TEXT' END AS type "
                     "FROM information_schema.columns WHERE table_schema = current_schema() "
                     "AND table_name = :t ORDER BY ordinal_position");
    st.bind(":t", table);
    while (st.step()) columns.push_back({st.text("name"), st.text("type")});
    return columns;
  }
  Statement st(db, "PRAGMA table_info(\"" + std::string(table) + "\")");
  while (st.step()) columns.push_back({st.text("name"), st.text("type")});
  return columns;
}

// PostgreSQL: ids the database assigns continue after the largest one imported.
void restart_identities(Database& db) {
  for (const char* table : {"keys", "users", "groups"}) {
    const std::string t = table;
    db.exec("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), "
            "coalesce((SELECT max(id) FROM " + t + "), 0) + 1, false)");
  }
}

[[noreturn]] void malformed(const std::string& what, const std::string& cause = {}) {
  fail(Category::integrity, "the keystore export is malformed: " + what, cause);
}

// Binds one exported value, checking it against the column's declared type.
void bind_value(Statement& st, const Column& c, const json& v, const std::string& where) {
  const std::string param = ":" + c.name;
  if (v.is_null()) {
    st.bind(param.c_str(), nullptr);
  } else if (c.type == "BLOB" && v.is_string()) {
    Bytes blob;
    try {
      blob = from_base64(v.get<std::string>());
    } catch (const Error&) {
      malformed(where + " column " + c.name + " is not base64");
    }
    st.bind(param.c_str(), ByteView(blob));
  } else if (c.type == "TEXT" && v.is_string()) {
    st.bind(param.c_str(), v.get<std::string>());
  } else if (c.type == "INTEGER" && v.is_number_integer() &&
             (v.is_number_unsigned() ? v.get<std::uint64_t>() <= INT64_MAX : true)) {
    st.bind(param.c_str(), v.get<std::int64_t>());
  } else {
    malformed(where + " column " + c.name + " does not hold " + c.type);
  }
}

void import_table(Database& db, std::string_view table, const json& rows) {
  if (!rows.is_array()) malformed("table " + std::string(table) + " is not a list of rows");
  const auto columns = columns_of(db, table);
  std::string names, params;
  for (const auto& c : columns) {
    names += (names.empty() ? "" : ", ") + c.name;
    params += (params.empty() ? ":" : ", :") + c.name;
  }
  Statement st(db, "INSERT INTO \"" + std::string(table) + "\" (" + names + ") VALUES (" +
                       params + ")");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string where = "table " + std::string(table) + " row " + std::to_string(i + 1);
    const json& row = rows[i];
    if (!row.is_object() || row.size() != columns.size())
      malformed(where + " does not have exactly the columns of the schema");
    for (const auto& c : columns) {
      const auto v = row.find(c.name);
      if (v == row.end()) malformed(where + " lacks column " + c.name);
      bind_value(st, c, *v, where);
    }
    try {
      st.insert(where + " duplicates another row");
    } catch (const Error& e) {
      malformed(where + " breaks the schema's rules", e.cause());
    }
    st.reset();
  }
}

}  // namespace

json Keystore::export_all() {
  Transaction snapshot(db_);  // every table as of one moment
  json tables = json::object();
  for (const auto table : table_names()) {
    std::set<std::string> blobs;
    for (const auto& c : columns_of(db_, table))
      if (c.type == "BLOB") blobs.insert(c.name);
    Statement st(db_, "SELECT * FROM \"" + std::string(table) + "\" ORDER BY " +
                          db_.insertion_order(table));
    json rows = json::array();
    while (st.step()) {
      json row = json::object();
      for (int i = 0; i < st.column_count(); ++i) {
        const std::string name = st.column_name(i);
        const ColumnType type = st.column_type(i);
        if (type == ColumnType::null)
          row[name] = nullptr;
        else if (blobs.contains(name))
          row[name] = to_base64(st.blob_at(i));
        else if (type == ColumnType::integer)
          row[name] = st.integer_at(i);
        else
          row[name] = st.text_at(i);
      }
      rows.push_back(std::move(row));
    }
    tables[std::string(table)] = std::move(rows);
  }
  snapshot.commit();
  return {{"format", kFormat}, {"schema", schema_version()}, {"tables", std::move(tables)}};
}

void Keystore::import_all(const json& doc) {
  if (!doc.is_object() || doc.value("format", json()) != kFormat)
    malformed("it is not an hsmctl keystore export");
  const auto schema = doc.value("schema", json());
  if (!schema.is_number_integer()) malformed("it has no schema version");
  // An export of an older schema imports when every step since only added tables (they are
  // empty in it); anything else needs the hsmctl version that made it.
  const std::int64_t from = schema.get<std::int64_t>();
  if (from != schema_version() && (from > schema_version() || from < kOldestImportableSchema))
    fail(Category::general, "the keystore export has schema " + schema.dump() +
                                " but this keystore has schema " +
                                std::to_string(schema_version()) +
                                "; use the hsmctl version that made it");
  json tables = doc.value("tables", json());
  if (!tables.is_object()) malformed("it has no tables");
  const auto& known = table_names();
  for (const auto& [name, rows] : tables.items())
    if (std::find(known.begin(), known.end(), name) == known.end() ||
        table_since(name) > from)
      malformed("it has an unknown table " + name);
  for (const auto table : known) {
    if (tables.contains(std::string(table))) continue;
    if (table_since(table) > from) tables[std::string(table)] = json::array();
    else malformed("it lacks table " + std::string(table));
  }

  Transaction tx(db_);
  // PostgreSQL checks each reference at its insert: the tables go in in reference order.
  if (!db_.is_postgres()) db_.exec("PRAGMA defer_foreign_keys = ON");
  for (auto t = known.rbegin(); t != known.rend(); ++t)
    db_.exec("DELETE FROM \"" + std::string(*t) + "\"");
  for (const auto table : known) import_table(db_, table, tables.at(std::string(table)));
  if (db_.is_postgres()) restart_identities(db_);
  // The state is derived from the rows just imported, which this ceremony puts in place as a
  // whole (a backup restore): every row counts as changed, and the new root is the one expected.
  const std::string root = rebuild_state();
  for (const std::string& key : all_row_keys()) changed_rows_[key] = row_digest(key);
  if (expected_root_) expected_root_ = root;
  try {
    tx.commit();  // deferred foreign keys are checked here
  } catch (const Error& e) {
    if (e.cause().starts_with("SQLITE_CONSTRAINT_FOREIGNKEY"))
      malformed("a row refers to a row that does not exist", e.cause());
    throw;
  }
}

}  // namespace hsm::keystore
