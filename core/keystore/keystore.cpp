// Opening the keystore: creates DIR/keystore.sqlite 0600 with O_EXCL, refuses files that others
// can read or that are symlinks, sets the connection's pragmas and migrates; also meta and the
// integrity check. Never widens a file mode and never follows a symlink.
#include "core/keystore/keystore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/keystore/schema.h"

namespace hsm::keystore {

namespace {

namespace fs = std::filesystem;

// The keystore holds only wrapped blobs, but a copy still lets an attacker keep a user's old
// outer blob or count users: like key files, it is the owner's alone.
void require_private(const fs::path& file) {
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail(Category::general, "cannot inspect " + file.string(), std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    fail(Category::general,
         file.string() + " is not a regular file (a symlink?); hsmctl does not follow it");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(Category::general, file.string() + " has mode " + mode +
                                " but must be private to its owner: run chmod 600 " +
                                file.string());
  }
}

// The new file's directory entry must survive a crash like the data SQLite syncs into it.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Makes sure DIR/keystore.sqlite exists as a private regular file before SQLite opens it, so
// that SQLite never creates it (SQLite copies its mode to the -wal and -shm files).
fs::path prepare_file(const fs::path& dir, OpenMode mode) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT)
      fail(Category::not_found, "workspace directory " + dir.string() +
                                    " does not exist; create it or point --dir at a workspace",
           std::strerror(err));
    fail(Category::general, "cannot open workspace directory " + dir.string(),
         std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode))
    fail(Category::general, dir.string() + " is not a directory; point --dir at a workspace");
  const fs::path file = Keystore::file_in(dir);
  if (mode == OpenMode::create_if_missing) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const bool ok = ::fchmod(fd, 0600) == 0;  // exactly 0600, whatever the umask
      const int err = errno;
      ::close(fd);
      if (!ok) fail(Category::general, "cannot set the mode of " + file.string(),
                    std::strerror(err));
      sync_directory(dir);
    } else if (errno != EEXIST) {
      fail(Category::general, "cannot create keystore " + file.string(), std::strerror(errno));
    }
  } else if (::lstat(file.c_str(), &st) != 0 && errno == ENOENT) {
    fail(Category::not_found, "no keystore at " + file.string() +
                                  ": this workspace has not been set up (run hsmctl master init)");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) require_private(file.string() + suffix);
  return file;
}

}  // namespace

Keystore::Keystore(const fs::path& dir, OpenMode mode) : db_(prepare_file(dir, mode)) {
  // temp_store = MEMORY: statement journals (the pre-images of pages a savepoint changes) stay
  // in memory rather than in files under /var/tmp, which would hold keystore pages for a while.
  db_.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; "
           "PRAGMA temp_store = MEMORY");
  migrate(db_);
  if (const std::string journal = db_.switch_to_wal(); journal != "wal")
    fail(Category::general, "keystore " + path() + ": cannot switch to WAL mode",
         "journal_mode is " + journal);
  open_state();
}

Keystore::Keystore(const PostgresTarget& target) : db_(target) {
  migrate(db_);
  open_state();
}

fs::path Keystore::file_in(const fs::path& dir) { return dir / "keystore.sqlite"; }

int Keystore::schema_version() { return keystore::schema_version(db_); }

std::vector<std::string> Keystore::integrity_check() {
  std::vector<std::string> problems;
  // PostgreSQL checks its pages and enforces the foreign keys itself, at every write.
  if (db_.is_postgres()) return problems;
  Statement check(db_, "PRAGMA integrity_check");
  while (check.step())
    if (check.text_at(0) != "ok") problems.push_back(check.text_at(0));
  Statement fk(db_, "PRAGMA foreign_key_check");
  while (fk.step())
    problems.push_back("row " + fk.text_at(1) + " of " + fk.text_at(0) +
                       " refers to a missing row of " + fk.text_at(2));
  return problems;
}

std::optional<std::string> Keystore::meta(std::string_view key) {
  Statement st(db_, "SELECT value FROM meta WHERE key = :key");
  st.bind(":key", key);
  if (!st.step()) return std::nullopt;
  return st.text("value");
}

void Keystore::set_meta(std::string_view key, std::string_view value) {
  Statement st(db_,
               "INSERT INTO meta (key, value) VALUES (:key, :value) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  st.bind(":key", key).bind(":value", value).run();
}

Transaction::Transaction(Keystore& keystore) : Transaction(keystore.database()) {}

}  // namespace hsm::keystore
