// Group-key records: round trip, members, rotation, deletion.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

class GroupsTest : public KeystoreTest {
 protected:
  void SetUp() override {
    KeystoreTest::SetUp();
    if (IsSkipped()) return;
    for (const char* name : {"alice", "bob", "carol"}) ks_.insert_user(sample_user(name));
  }
};

TEST_P(GroupsTest, GroupAndMembersRoundTrip) {
  ks_.insert_group(sample_group("ops"),
                   {sample_member("ops", "bob"), sample_member("ops", "alice")});
  ks_.insert_group(sample_group("dev"), {});
  EXPECT_EQ(ks_.find_group("ops"), sample_group("ops"));
  EXPECT_EQ(ks_.find_group("qa"), std::nullopt);
  EXPECT_EQ(ks_.list_groups(),
            (std::vector<GroupRecord>{sample_group("dev"), sample_group("ops")}));
  EXPECT_EQ(ks_.list_group_members("ops"),
            (std::vector<GroupMember>{sample_member("ops", "alice"), sample_member("ops", "bob")}));
  EXPECT_EQ(ks_.find_group_member("ops", "bob"), sample_member("ops", "bob"));
  EXPECT_EQ(ks_.find_group_member("ops", "carol"), std::nullopt);
  EXPECT_TRUE(ks_.list_group_members("dev").empty());
}

TEST_P(GroupsTest, AddAndRemoveMembers) {
  ks_.insert_group(sample_group("ops"), {sample_member("ops", "alice")});
  ks_.add_group_member(sample_member("ops", "carol"));
  ks_.insert_group(sample_group("dev"), {sample_member("dev", "carol")});
  EXPECT_EQ(ks_.groups_of("carol"), (std::vector<std::string>{"dev", "ops"}));
  ks_.remove_group_member("ops", "alice");
  EXPECT_EQ(ks_.list_group_members("ops"),
            (std::vector<GroupMember>{sample_member("ops", "carol")}));
  EXPECT_TRUE(ks_.groups_of("alice").empty());
}

TEST_P(GroupsTest, RotationReplacesKeyAndEveryMemberCopy) {
  ks_.insert_group(sample_group("ops"),
                   {sample_member("ops", "alice"), sample_member("ops", "bob"),
                    sample_member("ops", "carol")});
  const auto rotated = sample_group("ops", 2);
  const std::vector<GroupMember> remaining = {sample_member("ops", "alice", 2),
                                              sample_member("ops", "carol", 2)};
  ks_.replace_group_key(rotated, remaining);
  EXPECT_EQ(ks_.find_group("ops"), rotated);
  EXPECT_EQ(ks_.list_group_members("ops"), remaining);
}

TEST_P(GroupsTest, RotationMustRaiseTheKeyVersion) {
  ks_.insert_group(sample_group("ops", 3), {sample_member("ops", "alice", 3)});
  const Error e = error_from([&] { ks_.replace_group_key(sample_group("ops", 3), {}); });
  EXPECT_EQ(e.category(), Category::general);
  EXPECT_EQ(ks_.list_group_members("ops").size(), 1u);  // unchanged
}

TEST_P(GroupsTest, DeletingAGroupDeletesItsMembersOnly) {
  ks_.insert_group(sample_group("ops"), {sample_member("ops", "alice")});
  ks_.delete_group("ops");
  EXPECT_EQ(ks_.find_group("ops"), std::nullopt);
  EXPECT_TRUE(ks_.groups_of("alice").empty());
  EXPECT_NE(ks_.find_user("alice"), std::nullopt);
  EXPECT_TRUE(ks_.integrity_check().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, GroupsTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace hsm::keystore::test
