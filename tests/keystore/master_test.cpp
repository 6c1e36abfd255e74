// The master record and its share sets: round trip, one master per workspace, reshare.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_P(KeystoreTest, MasterRoundTrips) {
  EXPECT_EQ(ks_.master(), std::nullopt);
  ks_.save_master(sample_master());
  EXPECT_EQ(ks_.master(), sample_master());
  EXPECT_FALSE(ks_.master()->shares.retired);
}

TEST_P(KeystoreTest, TwoLevelShareSetRoundTrips) {
  auto m = sample_master();
  m.shares.group_threshold = 2;
  m.shares.member_thresholds = {2, 1, 3};
  m.shares.custodians = {
      {.name = "alice", .group_index = 0, .member_index = 0, .commitment = "aa"},
      {.name = "bob", .group_index = 0, .member_index = 1, .commitment = "bb"},
      {.name = "carol", .group_index = 1, .member_index = 0, .commitment = "cc"},
      {.name = "dave", .group_index = 2, .member_index = 0, .commitment = "dd"},
      {.name = "erin", .group_index = 2, .member_index = 1, .commitment = "ee"},
      {.name = "frank", .group_index = 2, .member_index = 2, .commitment = "ff"},
  };
  ks_.save_master(m);
  EXPECT_EQ(ks_.master(), m);
}

TEST_P(KeystoreTest, CustodianInAGroupThatDoesNotExistIsRefused) {
  auto m = sample_master();
  m.shares.custodians[0].group_index = 4;  // only group 0 exists
  const Error e = error_from([&] { ks_.save_master(m); });
  EXPECT_TRUE(e.cause().starts_with(constraint_cause("SQLITE_CONSTRAINT_FOREIGNKEY", "23503"))) << e.cause();
  EXPECT_EQ(ks_.master(), std::nullopt);  // nothing half-saved
  EXPECT_TRUE(ks_.share_sets().empty());
}

TEST_P(KeystoreTest, ReshareRetiresTheOldSetAndKeepsItsHistory) {
  ks_.save_master(sample_master());
  auto next = sample_share_set(777, {"alice", "bob", "frank"}, 2);
  next.created_seq = 9;
  EXPECT_EQ(ks_.replace_share_set(next), 2);

  const auto m = ks_.master();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kcv, sample_master().kcv);  // same master secret
  EXPECT_EQ(m->shares.generation, 2);
  EXPECT_EQ(m->shares.identifier, 777);
  EXPECT_EQ(m->shares.member_thresholds, std::vector<int>{2});
  EXPECT_EQ(m->shares.custodians, next.custodians);
  EXPECT_FALSE(m->shares.retired);

  const auto sets = ks_.share_sets();
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].generation, 1);
  EXPECT_TRUE(sets[0].retired);
  EXPECT_EQ(sets[0].custodians.size(), 5u);
  EXPECT_FALSE(sets[1].retired);

  EXPECT_EQ(ks_.replace_share_set(sample_share_set(778, {"bob", "carol"}, 2)), 3);
  EXPECT_TRUE(ks_.share_sets()[1].retired);
}

TEST_P(KeystoreTest, MasterActiveFlag) {
  ks_.save_master(sample_master());
  ks_.set_master_active(false);
  EXPECT_FALSE(ks_.master()->active);
  ks_.set_master_active(true);
  EXPECT_TRUE(ks_.master()->active);
}

}  // namespace
}  // namespace hsm::keystore::test
