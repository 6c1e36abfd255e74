// The SQLite wrapper on its own: statement reuse, NULL versus empty blobs, code names.
#include <sqlite3.h>

#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_F(KeystoreTest, SameStatementCanBeOpenTwiceAtOnce) {
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

TEST_F(KeystoreTest, ReusedStatementStartsWithoutOldBindings) {
  {
    Statement st(ks_.database(), "INSERT INTO meta (key, value) VALUES (:key, :value)");
    st.bind(":key", "x").bind(":value", "1").run();
  }
  Statement again(ks_.database(), "INSERT INTO meta (key, value) VALUES (:key, :value)");
  again.bind(":key", "y");  // :value left unbound is NULL, refused by NOT NULL
  const Error e = error_from([&] { again.run(); });
  EXPECT_TRUE(e.cause().starts_with("SQLITE_CONSTRAINT_NOTNULL")) << e.cause();
}

TEST_F(KeystoreTest, EmptyBlobIsNotNull) {
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
