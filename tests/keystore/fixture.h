// Keystore test helpers: a fresh temp workspace per test (mkdtemp) and sample records whose
// blobs are recognisable filler bytes. Never real key material.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
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

class KeystoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
  Keystore ks_{dir_.path()};
};

}  // namespace hsm::keystore::test
