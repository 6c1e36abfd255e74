// Argon2id key derivation: determinism, salt and profile handling, the usage errors, and that
// the two implementations behind it (our own up to 64 MiB, libsodium above) agree byte for
// byte with libsodium's crypto_pwhash, which every stored user key was derived with.
#include "core/kdf/argon2id.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace hsm::kdf {
namespace {

const KdfParams kFast = kdf_params(KdfProfile::min);

Bytes fixed_salt(std::uint8_t fill) { return Bytes(kSaltSize, fill); }

TEST(Argon2id, SamePasswordAndSaltGiveSameKey) {
  const Secret password = Secret::copy_of(std::string_view("correct horse battery staple"));
  const Secret a = derive_password_key(password, fixed_salt(1), kFast);
  const Secret b = derive_password_key(password, fixed_salt(1), kFast);
  EXPECT_EQ(a.size(), kDefaultKeySize);
  EXPECT_TRUE(a.equals(b));
}

TEST(Argon2id, DifferentSaltGivesDifferentKey) {
  const Secret password = Secret::copy_of(std::string_view("correct horse battery staple"));
  const Secret a = derive_password_key(password, fixed_salt(1), kFast);
  const Secret b = derive_password_key(password, fixed_salt(2), kFast);
  EXPECT_FALSE(a.equals(b));
}

TEST(Argon2id, DifferentPasswordGivesDifferentKey) {
  const Secret a = derive_password_key(Secret::copy_of(std::string_view("pw-one")),
                                       fixed_salt(1), kFast);
  const Secret b = derive_password_key(Secret::copy_of(std::string_view("pw-two")),
                                       fixed_salt(1), kFast);
  EXPECT_FALSE(a.equals(b));
}

TEST(Argon2id, CostParametersChangeTheKey) {
  const Secret password = Secret::copy_of(std::string_view("pw"));
  const Secret a = derive_password_key(password, fixed_salt(1), kFast);
  const Secret b = derive_password_key(password, fixed_salt(1), {kFast.opslimit + 1, kFast.memlimit});
  EXPECT_FALSE(a.equals(b));
}

TEST(Argon2id, SmallCostsAgreeWithLibsodiumByteForByte) {
  struct Case { std::uint64_t ops; std::size_t mem; std::size_t out; std::string pw; };
  const std::string long_pw(300, 'x');
  const std::vector<Case> cases{
      {1, 8192, 32, "pw"},                   // the min profile
      {2, 8192, 32, "correct horse battery staple"},
      {1, 65536, 16, "a"},
      {3, 1 << 20, 64, long_pw},
      {1, (1 << 20) + 1024, 32, "m not a multiple of 4 KiB"},
      {1, 9000, 32, "not a multiple of 1024"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.ops) + " passes, " + std::to_string(c.mem) + " bytes");
    for (std::uint8_t fill : {0, 7, 255}) {
      const Bytes salt = fixed_salt(fill);
      const Secret ours = derive_password_key(Secret::copy_of(std::string_view(c.pw)), salt,
                                              {c.ops, c.mem}, c.out);
      Bytes theirs(c.out);
      ASSERT_EQ(crypto_pwhash(theirs.data(), theirs.size(), c.pw.data(), c.pw.size(), salt.data(),
                              c.ops, c.mem, crypto_pwhash_ALG_ARGON2ID13), 0);
      EXPECT_EQ(Bytes(ours.bytes().begin(), ours.bytes().end()), theirs);
    }
  }
}

TEST(Argon2id, OutputLengthIsHonoured) {
  const Secret password = Secret::copy_of(std::string_view("pw"));
  const Secret k64 = derive_password_key(password, fixed_salt(1), kFast, 64);
  EXPECT_EQ(k64.size(), 64u);
}

TEST(Argon2id, NewSaltIsRandomAndSized) {
  const Bytes a = new_salt();
  const Bytes b = new_salt();
  EXPECT_EQ(a.size(), kSaltSize);
  EXPECT_NE(a, b);
}

TEST(Argon2id, BadInputsAreUsageErrors) {
  const Secret password = Secret::copy_of(std::string_view("pw"));
  const Secret empty;
  struct Case {
    const char* name;
    std::function<void()> call;
  };
  const Case cases[] = {
      {"salt too short", [&] { derive_password_key(password, Bytes(15, 0), kFast); }},
      {"salt too long", [&] { derive_password_key(password, Bytes(17, 0), kFast); }},
      {"no salt", [&] { derive_password_key(password, Bytes{}, kFast); }},
      {"empty password", [&] { derive_password_key(empty, fixed_salt(1), kFast); }},
      {"key too short", [&] { derive_password_key(password, fixed_salt(1), kFast, 15); }},
      {"opslimit zero", [&] { derive_password_key(password, fixed_salt(1), {0, kFast.memlimit}); }},
      {"memlimit tiny", [&] { derive_password_key(password, fixed_salt(1), {1, 1024}); }},
      {"unknown profile", [] { parse_kdf_profile("fast"); }},
      {"profile case matters", [] { parse_kdf_profile("Moderate"); }},
  };
  for (const auto& c : cases) {
    try {
      c.call();
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage) << c.name << ": " << e.what();
    }
  }
}

TEST(Argon2id, UnknownProfileMessageListsValidNames) {
  try {
    parse_kdf_profile("turbo");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* name : {"min", "interactive", "moderate", "sensitive"})
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

TEST(Argon2id, ProfileNamesRoundTrip) {
  for (KdfProfile p : {KdfProfile::min, KdfProfile::interactive, KdfProfile::moderate,
                       KdfProfile::sensitive})
    EXPECT_EQ(parse_kdf_profile(kdf_profile_name(p)), p);
  EXPECT_EQ(kdf_profile_name(KdfProfile::moderate), "moderate");
}

TEST(Argon2id, ProfilesAreLibsodiumConstants) {
  EXPECT_EQ(kdf_params(KdfProfile::min),
            (KdfParams{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN}));
  EXPECT_EQ(kdf_params(KdfProfile::interactive),
            (KdfParams{crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                       crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE}));
  EXPECT_EQ(kdf_params(KdfProfile::moderate),
            (KdfParams{crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
                       crypto_pwhash_argon2id_MEMLIMIT_MODERATE}));
  EXPECT_EQ(kdf_params(KdfProfile::sensitive),
            (KdfParams{crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE,
                       crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE}));
}

}  // namespace
}  // namespace hsm::kdf
