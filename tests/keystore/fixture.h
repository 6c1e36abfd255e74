// Keystore test helpers: a fresh temp workspace per test (mkdtemp), or a fresh schema of the
// PostgreSQL test cluster (HSMCTL_TEST_PG, scripts/lib/pg_cluster.sh), and sample records whose
// blobs are recognisable filler bytes. Never real key material.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <functional>
#include <string>
#include <system_error>

#include "core/error.h"
#include "core/keystore/keystore.h"
#include "core/keystore/schema.h"

namespace hsm::keystore::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hsmctl-keystore-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0xFFFF;
  return st.st_mode & 07777;
}

inline Bytes filler(std::string_view tag, std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(tag[i % tag.size()] + i);
  return b;
}

constexpr const char* kTime = "2026-11-23T12:00:00Z";

inline UserRecord sample_user(const std::string& name, bool with_extras = true) {
  UserRecord u;
  u.name = name;
  u.algorithm = "p256";
  u.public_key = filler("spki" + name, 91);
  u.secrets.key_version = 1;
  u.secrets.kdf = {.profile = "min", .salt = filler("salt", 16), .opslimit = 1,
                   .memlimit = 8192};
  u.secrets.signing_key = {.ciphertext = filler("outer" + name, 96), .nonce = filler("n", 12)};
  if (with_extras) {
    u.ecdh_public_key = filler("ecdh" + name, 91);
    u.secrets.ecdh_key = SealedBlob{.ciphertext = filler("ecdhouter", 96),
                                    .nonce = filler("m", 12)};
    u.otp.seed = SealedBlob{.ciphertext = filler("otp", 36), .nonce = filler("o", 12)};
    u.otp.enrolled = true;
    u.otp.last_step = 58'000'000;
  }
  u.created = kTime;
  u.rotated = kTime;
  return u;
}

inline KeyRecord sample_key(const std::string& label, const std::string& escrow = "mk-wrap") {
  KeyRecord k;
  k.label = label;
  k.key_id = to_hex(filler("id" + label, 16));
  k.algorithm = "ec-p256";
  k.purpose = "ca";
  k.escrow = escrow;
  k.quorum = escrow == "qk" ? 3 : 0;
  if (escrow != "none") k.wrapped_key = filler("wrapped" + label, 80);
  k.public_key = filler("pub" + label, 91);
  k.created = kTime;
  return k;
}

inline ShareSet sample_share_set(int identifier, std::vector<std::string> names, int threshold) {
  ShareSet s;
  s.identifier = identifier;
  s.iteration_exponent = 1;
  s.extendable = true;
  s.group_threshold = 1;
  s.member_thresholds = {threshold};
  for (std::size_t i = 0; i < names.size(); ++i)
    s.custodians.push_back({.name = names[i], .group_index = 0,
                            .member_index = static_cast<int>(i),
                            .commitment = to_hex(filler("commit" + names[i], 32))});
  s.created = kTime;
  s.created_seq = 3;
  return s;
}

inline MasterRecord sample_master() {
  MasterRecord m;
  m.kcv = "a1b2c3";
  m.created = kTime;
  m.created_seq = 3;
  m.shares = sample_share_set(12345, {"alice", "bob", "carol", "dave", "erin"}, 3);
  m.shares.generation = 1;
  return m;
}

inline GroupRecord sample_group(const std::string& name, std::int64_t version = 1) {
  return {.name = name, .algorithm = "p256",
          .public_key = filler("gpub" + name + std::to_string(version), 91),
          .key_version = version, .created = kTime};
}

inline GroupMember sample_member(const std::string& group, const std::string& user,
                                 std::int64_t version = 1) {
  return {.group = group, .user = user,
          .sealed_key = {.ciphertext = filler(group + user + std::to_string(version), 96),
                         .nonce = filler("gn", 12)},
          .ephemeral_public_key = filler("eph" + user, 65), .added = kTime};
}

// Runs `action` and returns the hsm::Error it throws; fails the test if it throws none.
inline Error error_from(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an hsm::Error";
  return Error(Category::general, "no error");
}

// The PostgreSQL test cluster's URL, or "" when the tests run without one (HSMCTL_TEST_PG).
inline std::string test_pg_url() {
  const char* url = std::getenv("HSMCTL_TEST_PG");
  return url == nullptr ? std::string() : std::string(url);
}

// A schema of its own in the test cluster, dropped at the end; url() selects it.
class PgSchema {
 public:
  PgSchema() {
    static std::atomic<int> counter{0};
    name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
    admin_ = std::make_unique<Database>(PostgresTarget{test_pg_url()});
    admin_->exec("CREATE SCHEMA " + name_);
  }
  ~PgSchema() {
    try {
      admin_->exec("DROP SCHEMA " + name_ + " CASCADE");
    } catch (...) {
    }
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;
  std::string url() const {
    const std::string base = test_pg_url();
    return base + (base.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + name_;
  }
  Database& admin() { return *admin_; }

 private:
  std::string name_;
  std::unique_ptr<Database> admin_;
};

// One keystore per test on the backend of the test's parameter. Without HSMCTL_TEST_PG the
// PostgreSQL cases are skipped (SetUp), so a plain ctest still runs.
class TestStore {
 public:
  TestStore(Backend backend, const fs::path& dir) : backend_(backend), dir_(dir) {
    if (backend == Backend::postgresql && !test_pg_url().empty()) pg_.emplace();
  }
  bool available() const { return backend_ == Backend::sqlite || pg_.has_value(); }
  std::unique_ptr<Keystore> open() const {
    if (pg_) return std::make_unique<Keystore>(PostgresTarget{pg_->url()});
    return std::make_unique<Keystore>(dir_);
  }
  std::string url() const { return pg_ ? pg_->url() : std::string(); }

 private:
  Backend backend_;
  fs::path dir_;
  std::optional<PgSchema> pg_;
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

#define HSM_SKIP_WITHOUT_PG(store)                                                          \
  if (!(store).available())                                                                 \
  GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh runs a "  \
                  "throwaway cluster and sets it)"

// Instantiated once per backend (users_test.cpp); subclasses call KeystoreTest::SetUp() first.
class KeystoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { HSM_SKIP_WITHOUT_PG(store_); }
  bool pg() const { return GetParam() == Backend::postgresql; }
  // Another connection to the same keystore.
  std::unique_ptr<Keystore> open_again() const { return store_.open(); }
  // The cause an SQLite constraint code has, or PostgreSQL's SQLSTATE for it.
  std::string constraint_cause(const std::string& sqlite, const std::string& sqlstate) const {
    return pg() ? "SQLSTATE " + sqlstate : sqlite;
  }

  TempDir dir_;
  TestStore store_{GetParam(), dir_.path()};
  std::unique_ptr<Keystore> owned_ = store_.available() ? store_.open()
                                                        : std::make_unique<Keystore>(dir_.path());
  Keystore& ks_ = *owned_;
};

}  // namespace hsm::keystore::test
