// Opening DIR/keystore.sqlite: file modes, refusals (foreign, newer, exposed, symlinked files),
// the schema version and the integrity check.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

// Runs SQL on a keystore file behind hsmctl's back, as an editor or attacker would.
void raw_sql(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

// Creates (or truncates) a file with mode 0600 holding `text`.
void write_private(const fs::path& file, const char* text = "") {
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(text, f);
  std::fclose(f);
  ::chmod(file.c_str(), 0600);
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(KeystoreOpen, CreatesPrivateFileAndWalFilesEvenWithOpenUmask) {
  TempDir dir;
  UmaskGuard umask(0);
  Keystore ks(dir.path());
  ks.insert_user(sample_user("alice"));  // a write, so -wal and -shm exist while open
  const auto file = Keystore::file_in(dir.path());
  EXPECT_EQ(mode_of(file), 0600u);
  ASSERT_TRUE(fs::exists(file.string() + "-wal"));
  EXPECT_EQ(mode_of(file.string() + "-wal"), 0600u);
  EXPECT_EQ(mode_of(file.string() + "-shm"), 0600u);
}

TEST(KeystoreOpen, UsesWalForeignKeysAndFullSync) {
  TempDir dir;
  Keystore ks(dir.path());
  auto pragma = [&](const char* name) {
    Statement st(ks.database(), std::string("PRAGMA ") + name);
    EXPECT_TRUE(st.step());
    return st.text_at(0);
  };
  EXPECT_EQ(pragma("journal_mode"), "wal");
  EXPECT_EQ(pragma("foreign_keys"), "1");
  EXPECT_EQ(pragma("synchronous"), "2");  // FULL
  EXPECT_EQ(pragma("secure_delete"), "1");
}

TEST(KeystoreOpen, ReopenKeepsData) {
  TempDir dir;
  { Keystore(dir.path()).insert_user(sample_user("alice")); }
  Keystore again(dir.path(), OpenMode::must_exist);
  EXPECT_EQ(again.find_user("alice"), sample_user("alice"));
  EXPECT_EQ(again.schema_version(), latest_schema_version());
}

TEST(KeystoreOpen, NewerSchemaIsRefused) {
  TempDir dir;
  { Keystore ks(dir.path()); }
  raw_sql(Keystore::file_in(dir.path()), "PRAGMA user_version = 99");
  const Error e = error_from([&] { Keystore ks(dir.path()); });
  EXPECT_EQ(e.category(), Category::general);
  EXPECT_STREQ(e.what(), "keystore schema 99 is newer than this hsmctl (5); upgrade hsmctl");
}

TEST(KeystoreOpen, MigrationStepsAreOrderedFromOne) {
  TempDir dir;
  Keystore ks(dir.path());
  EXPECT_EQ(latest_schema_version(), 5);
  EXPECT_EQ(ks.schema_version(), 5);
  // Every table in the file is exported and imported: the list must name them all, but for
  // the state_* tables, derived from the others and rebuilt after an import.
  Statement st(ks.database(),
               "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
               "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'state_%'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.integer_at(0), static_cast<std::int64_t>(table_names().size()));
}

TEST(KeystoreOpen, IntegrityCheckIsCleanAndFindsDanglingRows) {
  TempDir dir;
  {
    Keystore ks(dir.path());
    ks.insert_user(sample_user("alice"));
    ks.insert_group(sample_group("ops"), {sample_member("ops", "alice")});
    EXPECT_TRUE(ks.integrity_check().empty());
  }
  raw_sql(Keystore::file_in(dir.path()), "PRAGMA foreign_keys = OFF; DELETE FROM users");
  Keystore ks(dir.path());
  const auto problems = ks.integrity_check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("group_members"), std::string::npos) << problems[0];
}

// Every way an existing file is refused at open, with the error a user sees.
TEST(KeystoreOpen, RefusesUnsafeOrForeignFiles) {
  struct Case {
    const char* name;
    std::function<void(const fs::path& dir)> setup;
    Category category;
    const char* message_part;
  };
  const Case cases[] = {
      {"readable by others",
       [](const fs::path& d) {
         { Keystore ks(d); }
         ::chmod(Keystore::file_in(d).c_str(), 0644);
       },
       Category::general, "has mode 0644 but must be private to its owner: run chmod 600"},
      {"wal file readable by others",
       [](const fs::path& d) {
         { Keystore ks(d); }
         const auto wal = Keystore::file_in(d).string() + "-wal";
         write_private(wal);
         ::chmod(wal.c_str(), 0640);
       },
       Category::general, "-wal has mode 0640"},
      {"symlink",
       [](const fs::path& d) {
         write_private(d / "elsewhere");
         fs::create_symlink(d / "elsewhere", Keystore::file_in(d));
       },
       Category::general, "is not a regular file"},
      {"another application's database",
       [](const fs::path& d) {
         write_private(Keystore::file_in(d));
         raw_sql(Keystore::file_in(d), "CREATE TABLE notes (text TEXT)");
       },
       Category::general, "is an SQLite database but not an hsmctl keystore"},
      {"not a database",
       [](const fs::path& d) {
         write_private(Keystore::file_in(d),
                       "this is not an SQLite file, just text long enough to have a header");
       },
       Category::general, "the file is damaged or not a keystore"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    c.setup(dir.path());
    const Error e = error_from([&] { Keystore ks(dir.path()); });
    EXPECT_EQ(e.category(), c.category);
    EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << e.what();
  }
}

TEST(KeystoreOpen, MissingKeystoreOrDirectoryIsNotFound) {
  TempDir dir;
  Error e = error_from([&] { Keystore ks(dir.path(), OpenMode::must_exist); });
  EXPECT_EQ(e.category(), Category::not_found);
  EXPECT_NE(std::string(e.what()).find("no keystore at"), std::string::npos);
  EXPECT_FALSE(fs::exists(Keystore::file_in(dir.path())));

  e = error_from([&] { Keystore ks(dir.path() / "missing"); });
  EXPECT_EQ(e.category(), Category::not_found);
  EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
}

TEST_P(KeystoreTest, MetaRoundTripsAndOverwrites) {
  EXPECT_EQ(ks_.meta("token_serial"), std::nullopt);
  ks_.set_meta("token_serial", "0123");
  ks_.set_meta("token_serial", "4567");
  ks_.set_meta("workspace_id", "f00");
  EXPECT_EQ(ks_.meta("token_serial"), "4567");
  EXPECT_EQ(ks_.meta("workspace_id"), "f00");
}

TEST_P(KeystoreTest, ErrorsCarryTheCodeName) {
  auto key = sample_key("root", "none");
  key.wrapped_key = filler("x", 8);  // escrow "none" must have no blob: a CHECK constraint
  const Error e = error_from([&] { ks_.insert_key(key); });
  EXPECT_EQ(e.category(), Category::general);
  EXPECT_TRUE(e.cause().starts_with(constraint_cause("SQLITE_CONSTRAINT_CHECK: ", "23514: "))) << e.cause();
  EXPECT_NE(std::string(e.what()).find(ks_.path()), std::string::npos) << e.what();
}

}  // namespace
}  // namespace hsm::keystore::test
