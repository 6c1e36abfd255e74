// The SQLite wrapper on its own: statement reuse, NULL versus empty blobs, code names.
#include <sqlite3.h>

#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_P(KeystoreTest, SameStatementCanBeOpenTwiceAtOnce) {
  for (const char* k : {"a", "b", "c"}) ks_.set_meta(k, k);
  const char* sql = "SELECT key FROM meta ORDER BY key";
  Statement outer(ks_.database(), sql);
  std::string seen;
  while (outer.step()) {
    Statement inner(ks_.database(), sql);  // the cached copy is in use: a fresh one
    int rows = 0;
    while (inner.step()) ++rows;
    EXPECT_EQ(rows, 3);
    seen += outer.text("key");
  }
  EXPECT_EQ(seen, "abc");
}

TEST_P(KeystoreTest, ReusedStatementStartsWithoutOldBindings) {
  {
    Statement st(ks_.database(), "INSERT INTO meta (key, value) VALUES (:key, :value)");
    st.bind(":key", "x").bind(":value", "1").run();
  }
  Statement again(ks_.database(), "INSERT INTO meta (key, value) VALUES (:key, :value)");
  again.bind(":key", "y");  // :value left unbound is NULL, refused by NOT NULL
  const Error e = error_from([&] { again.run(); });
  EXPECT_TRUE(e.cause().starts_with(constraint_cause("SQLITE_CONSTRAINT_NOTNULL", "23502"))) << e.cause();
}

TEST_P(KeystoreTest, ReusedStatementBindsByNameInAnyOrder) {
  // The statement remembers the indices its binds looked up; a later use that binds in
  // another order, or through one reused buffer of names, must still reach the right ones.
  const char* sql = "SELECT :a AS a, :b AS b, :c AS c";
  const auto row = [&](Statement& st) {
    EXPECT_TRUE(st.step());
    return st.text("a") + st.text("b") + st.text("c");
  };
  {
    Statement st(ks_.database(), sql);
    st.bind(":a", "1").bind(":b", "2").bind(":c", "3");
    EXPECT_EQ(row(st), "123");
  }
  {
    Statement st(ks_.database(), sql);
    st.bind(":c", "6").bind(":a", "4").bind(":b", "5");
    EXPECT_EQ(row(st), "456");
  }
  {
    Statement st(ks_.database(), sql);
    std::string name;
    for (const char* n : {":b", ":c", ":a"}) {
      name = n;  // same buffer, different names
      st.bind(name.c_str(), std::string_view(n + 1));
    }
    EXPECT_EQ(row(st), "abc");
  }
  Statement st(ks_.database(), sql);
  EXPECT_THROW(st.bind(":d", "x"), Error);
}

TEST_P(KeystoreTest, EmptyBlobIsNotNull) {
  Statement st(ks_.database(), "SELECT :empty AS empty, :none AS none");
  st.bind(":empty", ByteView()).bind(":none", nullptr);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.optional_blob("empty"), Bytes());
  EXPECT_EQ(st.optional_blob("none"), std::nullopt);
}

TEST(SqliteCodeName, NamesPrimaryAndExtendedCodes) {
  EXPECT_EQ(sqlite_code_name(SQLITE_BUSY), "SQLITE_BUSY");
  EXPECT_EQ(sqlite_code_name(SQLITE_CONSTRAINT_UNIQUE), "SQLITE_CONSTRAINT_UNIQUE");
  EXPECT_EQ(sqlite_code_name(SQLITE_IOERR_FSYNC), "SQLITE_IOERR (extended 1034)");
}

}  // namespace
}  // namespace hsm::keystore::test
