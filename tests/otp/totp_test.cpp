// TOTP: the RFC 6238 Appendix B SHA-1 vectors, the +-1 step window, replay refusal and the
// malformed-code contract.
#include "core/otp/totp.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace hsm::otp {
namespace {

Secret rfc_seed() { return Secret::copy_of(std::string_view("12345678901234567890")); }

TEST(Totp, MatchesRfc6238AppendixBSha1Vectors) {
  const Secret seed = rfc_seed();
  const struct {
    std::uint64_t time;
    const char* code;
  } vectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
  };
  for (const auto& v : vectors) EXPECT_EQ(totp_code(seed, v.time, 8), v.code) << v.time;
}

TEST(Totp, SixDigitCodesMatchRfc4226AppendixD) {
  // TOTP at step n is HOTP with counter n.
  const Secret seed = rfc_seed();
  const char* hotp[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t n = 0; n < 10; ++n)
    EXPECT_EQ(totp_code(seed, n * kTimeStep + 7), hotp[n]) << n;
}

TEST(Totp, BadSeedOrDigitsAreUsageErrors) {
  const Secret seed = rfc_seed();
  for (int digits : {0, 5, 9, -1}) {
    try {
      totp_code(seed, 59, digits);
      ADD_FAILURE() << digits << " digits accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage);
    }
  }
  EXPECT_THROW(totp_code(Secret(), 59), Error);
  EXPECT_THROW(verify_totp(Secret(), "123456", 59, 0), Error);
}

TEST(Totp, AcceptsCurrentStepAndOneStepEitherWay) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 1111111111;
  const std::uint64_t step = time_step(now);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now), now, 0), step);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now - kTimeStep), now, 0), step - 1);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now + kTimeStep), now, 0), step + 1);
}

TEST(Totp, RefusesCodesTwoStepsAway) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 1111111111;
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now - 2 * kTimeStep), now, 0), std::nullopt);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now + 2 * kTimeStep), now, 0), std::nullopt);
}

TEST(Totp, RefusesWrongCodeAndWrongSeed) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 1234567890;
  const std::string code = totp_code(seed, now);
  std::string wrong = code;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  EXPECT_EQ(verify_totp(seed, wrong, now, 0), std::nullopt);
  const Secret other = Secret::copy_of(std::string_view("09876543210987654321"));
  EXPECT_EQ(verify_totp(other, code, now, 0), std::nullopt);
}

TEST(Totp, AcceptsEachCodeOnce) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 1234567890;
  const std::string code = totp_code(seed, now);
  const auto first = verify_totp(seed, code, now, 0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(verify_totp(seed, code, now, *first), std::nullopt);
  EXPECT_EQ(verify_totp(seed, code, now + kTimeStep, *first), std::nullopt);
}

TEST(Totp, RefusesCodeOlderThanTheLastAcceptedOne) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 1234567890;
  const std::uint64_t step = time_step(now);
  // The user already logged in with the code of the next step (clock ahead).
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now), now, step + 1), std::nullopt);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now - kTimeStep), now, step), std::nullopt);
  EXPECT_EQ(verify_totp(seed, totp_code(seed, now + kTimeStep), now, step), step + 1);
}

TEST(Totp, RefusesMalformedCodes) {
  const Secret seed = rfc_seed();
  const std::uint64_t now = 59;  // step 1: the code is "287082"
  ASSERT_EQ(verify_totp(seed, "287082", now, 0), 1u);
  const std::string_view malformed[] = {
      "",          "28708",      "2870820",   "287082\n",          " 287082", "287 082",
      "28708a",    "+87082",     "-87082",    std::string_view("28708\0", 6),
      "２８７０８２", "0x1234",
  };
  for (std::string_view code : malformed)
    EXPECT_EQ(verify_totp(seed, code, now, 0), std::nullopt) << code;
}

TEST(Totp, WindowAtTheStartOfTimeDoesNotUnderflow) {
  const Secret seed = rfc_seed();
  EXPECT_EQ(verify_totp(seed, totp_code(seed, 0), 0, 0), std::nullopt);  // step 0 == "none yet"
  EXPECT_EQ(verify_totp(seed, totp_code(seed, kTimeStep), 0, 0), 1u);
}

TEST(Totp, NewSeedIsRandomAndFullLength) {
  const Secret a = new_totp_seed();
  const Secret b = new_totp_seed();
  EXPECT_EQ(a.size(), kSeedSize);
  EXPECT_FALSE(a.equals(b));
}

}  // namespace
}  // namespace hsm::otp
