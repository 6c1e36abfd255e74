// Splitting and combining across both levels: round trips, quorum properties, passphrase and
// salt rules, and the failure contract of split_master_secret and recover_ems.
#include "core/shamir/slip39.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/shamir/fixtures.h"

namespace hsm::slip39 {
namespace {

using testing::chars;
using testing::copy;
using testing::error_of;
using testing::hex;
using testing::pick;
using testing::random_secret;
using testing::seeded_random;
using testing::subsets;
using testing::text;

// A vector of move-only shares (an initializer_list would copy).
template <class... S>
std::vector<Share> list(S&&... shares) {
  std::vector<Share> out;
  (out.push_back(std::forward<S>(shares)), ...);
  return out;
}

// The shares of one group, re-read from their mnemonics (so every round trip crosses the text).
std::vector<Share> through_mnemonics(const std::vector<Share>& shares) {
  std::vector<Share> out;
  for (const Share& s : shares) out.push_back(parse_mnemonic(to_mnemonic(s)));
  return out;
}

TEST(Slip39, SplitThenCombineRoundTripsSeveralSchemes) {
  struct Scheme {
    std::string name;
    std::uint8_t group_threshold;
    std::vector<GroupSpec> groups;
    std::vector<std::pair<std::size_t, std::size_t>> chosen;  // (group, member) to combine
  };
  const std::vector<Scheme> schemes = {
      {"1 of 1", 1, {{1, 1}}, {{0, 0}}},
      {"3 of 5", 1, {{3, 5}}, {{0, 4}, {0, 1}, {0, 2}}},
      {"2 of 3 groups", 2, {{2, 3}, {1, 1}, {3, 5}}, {{2, 0}, {2, 3}, {2, 4}, {1, 0}}},
      {"3 of 4 groups",
       3,
       {{1, 1}, {2, 2}, {2, 6}, {4, 4}},
       {{0, 0}, {2, 5}, {2, 1}, {1, 1}, {1, 0}}},
      {"16 of 16", 1, {{16, 16}}, {}},
  };
  std::uint32_t seed = 100;
  for (const Scheme& scheme : schemes) {
    for (std::size_t bytes : {16u, 32u}) {
      for (bool extendable : {true, false}) {
        SCOPED_TRACE(scheme.name + ", " + std::to_string(bytes) + " bytes" +
                     (extendable ? ", extendable" : ""));
        const Secret master = random_secret(bytes, seed++);
        const Secret passphrase = text("correct horse");
        const auto groups =
            split_master_secret(master, passphrase, scheme.group_threshold, scheme.groups,
                                extendable, 0, seeded_random(seed++));
        ASSERT_EQ(groups.size(), scheme.groups.size());
        std::vector<Share> chosen;
        for (const auto& [g, m] : scheme.chosen) {
          chosen.push_back(parse_mnemonic(to_mnemonic(groups.at(g).at(m))));
        }
        if (scheme.chosen.empty()) chosen = through_mnemonics(groups[0]);
        EXPECT_EQ(hex(combine_shares(chosen, passphrase)), hex(master));
      }
    }
  }
}

TEST(Slip39, SharesCarryTheSchemeInTheirHeaders) {
  const std::vector<GroupSpec> groups = {{2, 3}, {1, 1}};
  const auto shares =
      split_master_secret(random_secret(16, 1), text(""), 1, groups, true, 3, seeded_random(2));
  const ShareHeader& first = shares[0][0].header;
  EXPECT_LT(first.identifier, 0x8000);
  for (std::size_t g = 0; g < shares.size(); ++g) {
    ASSERT_EQ(shares[g].size(), groups[g].member_count);
    for (std::size_t m = 0; m < shares[g].size(); ++m) {
      const ShareHeader& h = shares[g][m].header;
      EXPECT_EQ(h, (ShareHeader{first.identifier, true, 3, static_cast<std::uint8_t>(g), 1, 2,
                                static_cast<std::uint8_t>(m), groups[g].member_threshold}));
    }
  }
}

TEST(Slip39, EveryMemberQuorumRecoversAndEveryShortfallIsAQuorumError) {
  const Secret master = random_secret(16, 7);
  for (std::uint8_t n = 1; n <= 6; ++n) {
    for (std::uint8_t t = (n == 1 ? 1 : 2); t <= n; ++t) {  // 1-of-N>1 is refused by the spec
      const std::vector<GroupSpec> groups = {{t, n}};
      const auto shares =
          split_master_secret(master, text(""), 1, groups, true, 0, seeded_random(n * 16 + t));
      const EncryptedMasterSecret ems = recover_ems(pick(shares[0], [&] {
        std::vector<std::size_t> all(t);
        for (std::size_t i = 0; i < t; ++i) all[i] = i;
        return all;
      }()));
      EXPECT_EQ(hex(decrypt_ems(ems, text(""))), hex(master));
      for (const auto& at : subsets(n, t)) {
        ASSERT_EQ(hex(recover_ems(pick(shares[0], at)).value), hex(ems.value));
      }
      for (const auto& at : subsets(n, t - 1)) {
        const auto error = error_of([&] { recover_ems(pick(shares[0], at)); });
        ASSERT_TRUE(error.has_value());
        ASSERT_EQ(error->category(), Category::quorum) << error->what();
      }
    }
  }
}

TEST(Slip39, EveryGroupQuorumRecoversAndMissingGroupsAreNamed) {
  const Secret master = random_secret(32, 8);
  const std::vector<GroupSpec> groups = {{2, 3}, {1, 1}, {3, 4}, {2, 2}};
  const auto shares = split_master_secret(master, text("x"), 2, groups, false, 0, seeded_random(9));
  const auto quorum_of = [&](std::size_t g) {  // the first member_threshold shares of group g
    std::vector<Share> out;
    for (std::size_t m = 0; m < groups[g].member_threshold; ++m) out.push_back(copy(shares[g][m]));
    return out;
  };
  for (const auto& at : subsets(groups.size(), 2)) {
    std::vector<Share> chosen = quorum_of(at[0]);
    for (Share& s : quorum_of(at[1])) chosen.push_back(std::move(s));
    EXPECT_EQ(hex(combine_shares(chosen, text("x"))), hex(master));
    chosen.pop_back();  // the second group is now one short (or gone, for 1-of-1)
    const auto error = error_of([&] { recover_ems(chosen); });
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->category(), Category::quorum) << error->what();
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto error = error_of([&] { recover_ems(quorum_of(g)); });
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(std::string(error->what()),
              "Not enough shares to recover the secret; still needed: shares from 1 more group.");
  }
}

TEST(Slip39, QuorumErrorSaysWhatIsMissing) {
  const std::vector<GroupSpec> groups = {{3, 5}, {2, 2}, {2, 2}};
  const auto shares =
      split_master_secret(random_secret(16, 10), text(""), 3, groups, true, 0, seeded_random(11));
  std::vector<Share> chosen = pick(shares[0], {0});
  chosen.push_back(copy(shares[2][1]));
  const auto error = error_of([&] { recover_ems(chosen); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->category(), Category::quorum);
  EXPECT_EQ(std::string(error->what()),
            "Not enough shares to recover the secret; still needed: 2 more shares of group 1, "
            "1 more share of group 3, shares from 1 more group.");
}

TEST(Slip39, PassphraseAndSaltRules) {
  const Secret master = random_secret(32, 12);
  const Secret pass = text("TREZOR");
  const auto a = encrypt_master_secret(master, pass, 1234, true, 0);
  const auto b = encrypt_master_secret(master, pass, 4321, true, 0);
  const auto c = encrypt_master_secret(master, pass, 1234, false, 0);
  const auto d = encrypt_master_secret(master, pass, 4321, false, 0);
  EXPECT_EQ(hex(a.value), hex(b.value));  // extendable: the identifier is not in the salt
  EXPECT_NE(hex(c.value), hex(d.value));  // not extendable: it is
  EXPECT_NE(hex(a.value), hex(c.value));
  EXPECT_NE(hex(a.value), hex(encrypt_master_secret(master, pass, 1234, true, 1).value));
  EXPECT_NE(hex(a.value), hex(encrypt_master_secret(master, text("trezor"), 1234, true, 0).value));
  for (const auto* ems : {&a, &b, &c, &d}) {
    EXPECT_EQ(hex(decrypt_ems(*ems, pass)), hex(master));
  }
  // A wrong passphrase is not detected; it gives another secret.
  EXPECT_NE(hex(decrypt_ems(a, text("TREZOR "))), hex(master));
}

TEST(Slip39, RecoverEmsThenDecryptEqualsCombine) {
  const Secret master = random_secret(16, 13);
  const std::vector<GroupSpec> groups = {{2, 3}};
  const auto shares = split_master_secret(master, text("p"), 1, groups, true, 1, seeded_random(14));
  const auto chosen = pick(shares[0], {2, 0});
  const EncryptedMasterSecret ems = recover_ems(chosen);
  EXPECT_EQ(ems.identifier, shares[0][0].header.identifier);
  EXPECT_TRUE(ems.extendable);
  EXPECT_EQ(ems.iteration_exponent, 1);
  EXPECT_EQ(hex(decrypt_ems(ems, text("p"))), hex(master));
  EXPECT_EQ(hex(combine_shares(chosen, text("p"))), hex(master));
}

TEST(Slip39, ThresholdOneGroupShareIsTheEncryptedSecret) {
  const std::vector<GroupSpec> groups = {{1, 1}};
  const Secret master = random_secret(16, 15);
  const auto shares = split_master_secret(master, text(""), 1, groups, true, 0, seeded_random(16));
  const auto ems = encrypt_master_secret(master, text(""), shares[0][0].header.identifier, true, 0);
  EXPECT_EQ(hex(shares[0][0].value), hex(ems.value));
}

TEST(Slip39, SplitFailureContract) {
  struct Case {
    std::string name;
    std::uint8_t group_threshold;
    std::vector<GroupSpec> groups;
    std::size_t bytes = 16;
    std::string passphrase = "";
    std::uint8_t exponent = 0;
  };
  const std::vector<Case> cases = {
      {"no groups", 1, {}},
      {"17 groups", 1, std::vector<GroupSpec>(17, {1, 1})},
      {"group threshold 0", 0, {{1, 1}}},
      {"group threshold above groups", 2, {{1, 1}}},
      {"member threshold 0", 1, {{0, 3}}},
      {"member threshold above count", 1, {{4, 3}}},
      {"17 members", 1, {{2, 17}}},
      {"0 members", 1, {{0, 0}}},
      {"1 of 3", 1, {{1, 3}}},
      {"short secret", 1, {{1, 1}}, 14},
      {"odd secret", 1, {{1, 1}}, 17},
      {"long secret", 1, {{1, 1}}, 66},
      {"exponent 16", 1, {{1, 1}}, 16, "", 16},
      {"tab in passphrase", 1, {{1, 1}}, 16, "a\tb"},
      {"non-ASCII passphrase", 1, {{1, 1}}, 16, "caf\xC3\xA9"},
  };
  for (const Case& c : cases) {
    const Secret master = random_secret(c.bytes, 17);
    const auto error = error_of([&] {
      split_master_secret(master, text(c.passphrase), c.group_threshold, c.groups, true, c.exponent,
                          seeded_random(18));
    });
    ASSERT_TRUE(error.has_value()) << c.name;
    EXPECT_EQ(error->category(), Category::usage) << c.name << ": " << error->what();
  }
}

TEST(Slip39, CombineFailureContract) {
  const std::vector<GroupSpec> groups = {{2, 3}, {2, 2}};
  const auto shares =
      split_master_secret(random_secret(16, 19), text(""), 1, groups, true, 0, seeded_random(20));
  const auto other =
      split_master_secret(random_secret(16, 21), text(""), 1, groups, true, 0, seeded_random(22));
  const auto longer =
      split_master_secret(random_secret(32, 23), text(""), 1, groups, true, 0, seeded_random(24));
  Share altered = copy(shares[0][1]);
  altered.value.data()[3] ^= 0x80;
  Share relabelled = copy(shares[0][2]);
  relabelled.header.member_index = 0;
  struct Case {
    std::string name;
    std::vector<Share> shares;
    Category category;
    std::string reason;
  };
  std::vector<Case> cases;
  const auto add = [&](std::string name, std::vector<Share> s, Category c, std::string reason) {
    cases.push_back({std::move(name), std::move(s), c, std::move(reason)});
  };
  add("nothing", list(), Category::quorum, "No shares were given");
  add("other set", list(copy(shares[0][0]), copy(other[0][1])), Category::integrity,
      "Share 2 has identifier");
  add("other set and length", list(copy(shares[0][0]), copy(longer[0][1])), Category::integrity,
      "Share 2 has identifier");
  add("other length", list(copy(shares[0][0]), Share{shares[0][1].header, random_secret(32, 25)}),
      Category::integrity, "Share 2 has a value length of 32 but share 1 has 16");
  add("same share twice", list(copy(shares[0][0]), copy(shares[0][0])), Category::integrity,
      "Shares 1 and 2 are both member 1 of group 1");
  add("conflicting member index", list(copy(shares[0][0]), std::move(relabelled)),
      Category::integrity, "both member 1");
  add("altered value", list(copy(shares[0][0]), std::move(altered)), Category::integrity,
      "The shares of group 1 do not combine");
  add("two groups for one", pick(shares[0], {0, 1}), Category::usage, "");
  cases.back().shares.push_back(copy(shares[1][0]));
  cases.back().shares.push_back(copy(shares[1][1]));
  cases.back().reason =
      "Shares from 2 groups were given, but the group threshold is 1; leave out 1 group.";
  add("three of two", pick(shares[0], {0, 1, 2}), Category::usage, "group 1 needs 2 but has 3");
  for (const Case& c : cases) {
    const auto error = error_of([&] { recover_ems(c.shares); });
    ASSERT_TRUE(error.has_value()) << c.name;
    EXPECT_EQ(category_name(error->category()), category_name(c.category)) << c.name;
    EXPECT_NE(std::string(error->what()).find(c.reason), std::string::npos)
        << c.name << ": " << error->what();
  }
}

}  // namespace
}  // namespace hsm::slip39
