// SplitSecret / RecoverSecret / interpolation, one level, without mnemonics or encryption.
#include "core/shamir/shamir.h"

#include <gtest/gtest.h>

#include "tests/shamir/fixtures.h"

namespace hsm::slip39 {
namespace {

using testing::error_of;
using testing::hex;
using testing::random_secret;
using testing::seeded_random;
using testing::subsets;

std::vector<SharePoint> points_of(const std::vector<Secret>& shares,
                                  const std::vector<std::size_t>& at) {
  std::vector<SharePoint> points;
  for (std::size_t i : at) points.push_back({static_cast<std::uint8_t>(i), shares[i].bytes()});
  return points;
}

TEST(Shamir, EveryThresholdSubsetRecoversTheSecretAndFewerAreRefused) {
  const Secret secret = random_secret(32, 1);
  for (std::uint8_t n = 1; n <= 6; ++n) {
    for (std::uint8_t t = 1; t <= n; ++t) {
      const std::vector<Secret> shares = split_secret(t, n, secret, seeded_random(n * 16 + t));
      ASSERT_EQ(shares.size(), n);
      for (const auto& at : subsets(n, t)) {
        const Secret recovered = recover_secret(t, points_of(shares, at), "the shares");
        ASSERT_EQ(hex(recovered), hex(secret)) << int(t) << " of " << int(n);
      }
      for (const auto& at : subsets(n, t - 1)) {
        const auto error =
            error_of([&] { recover_secret(t, points_of(shares, at), "the shares"); });
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->category(), Category::quorum);
      }
    }
  }
}

TEST(Shamir, ThresholdOneGivesEveryoneTheSecret) {
  const Secret secret = random_secret(16, 2);
  for (const Secret& share : split_secret(1, 5, secret, seeded_random(3))) {
    EXPECT_EQ(hex(share), hex(secret));
  }
}

TEST(Shamir, SecretSitsAt255AndItsDigestAt254) {
  const Secret secret = random_secret(16, 4);
  const std::vector<Secret> shares = split_secret(3, 5, secret, seeded_random(5));
  const auto points = points_of(shares, {0, 2, 4});
  EXPECT_EQ(hex(interpolate(points, 255)), hex(secret));
  // Interpolating at a share's own x gives that share back.
  EXPECT_EQ(hex(interpolate(points_of(shares, {1, 3, 4}), 0)), hex(shares[0]));
}

TEST(Shamir, AlteredShareFailsTheDigestCheck) {
  const Secret secret = random_secret(32, 6);
  std::vector<Secret> shares = split_secret(2, 3, secret, seeded_random(7));
  shares[1].data()[7] ^= 0x01;
  const auto error = error_of([&] { recover_secret(2, points_of(shares, {0, 1}), "the shares"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->category(), Category::integrity);
  EXPECT_NE(std::string(error->what()).find("The shares do not combine"), std::string::npos)
      << error->what();
}

TEST(Shamir, SplitRefusesImpossibleParameters) {
  const Secret secret = random_secret(16, 8);
  struct Case {
    std::uint8_t threshold, count;
    std::size_t length;
  };
  for (const Case& c :
       {Case{0, 3, 16}, Case{4, 3, 16}, Case{2, 17, 16}, Case{2, 3, 15}, Case{2, 3, 14}}) {
    const Secret s = random_secret(c.length, 9);
    const auto error = error_of([&] { split_secret(c.threshold, c.count, s, seeded_random(1)); });
    ASSERT_TRUE(error.has_value()) << int(c.threshold) << "/" << int(c.count) << "/" << c.length;
    EXPECT_EQ(error->category(), Category::usage);
  }
}

TEST(Shamir, RepeatedIndexIsRefused) {
  const Secret secret = random_secret(16, 10);
  const std::vector<Secret> shares = split_secret(2, 3, secret, seeded_random(11));
  const std::vector<SharePoint> points = {{1, shares[1].bytes()}, {1, shares[1].bytes()}};
  const auto error = error_of([&] { recover_secret(2, points, "the shares"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->category(), Category::integrity);
}

}  // namespace
}  // namespace hsm::slip39
