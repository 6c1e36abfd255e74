// The keystore's failure contract in one table: duplicates are "already exists" and unknown
// names are "not found", both Category::not_found (exit 7), each with a message naming the thing.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

class ErrorsTest : public KeystoreTest {
 protected:
  void SetUp() override {
    KeystoreTest::SetUp();
    if (IsSkipped()) return;
    ks_.insert_user(sample_user("alice"));
    ks_.insert_user(sample_user("bob"));
    ks_.insert_key(sample_key("root"));
    ks_.add_revocation("root", {.serial = "0a", .reason = "unspecified", .revoked = kTime});
    ks_.insert_group(sample_group("ops"), {sample_member("ops", "alice")});
    ks_.save_master(sample_master());
  }
};

TEST_P(ErrorsTest, EveryRefusalHasItsCategoryAndMessage) {
  struct Case {
    const char* name;
    std::function<void(Keystore&)> action;
    std::string message;
  };
  const Case cases[] = {
      // already exists
      {"duplicate user", [](Keystore& k) { k.insert_user(sample_user("alice")); },
       "user 'alice' already exists"},
      {"duplicate key label",
       [](Keystore& k) {
         auto key = sample_key("root");
         key.key_id = "ffff";
         k.insert_key(key);
       },
       "key 'root' already exists"},
      {"duplicate key id",
       [](Keystore& k) {
         auto key = sample_key("root");
         key.label = "root2";
         k.insert_key(key);
       },
       "key id " + sample_key("root").key_id + " is already used by another key"},
      {"duplicate group", [](Keystore& k) { k.insert_group(sample_group("ops"), {}); },
       "group 'ops' already exists"},
      {"duplicate member", [](Keystore& k) { k.add_group_member(sample_member("ops", "alice")); },
       "user 'alice' is already a member of group 'ops'"},
      {"second master", [](Keystore& k) { k.save_master(sample_master()); },
       "this workspace already has a master key (kcv a1b2c3); use another --dir for a new one"},
      {"duplicate revocation",
       [](Keystore& k) {
         k.add_revocation("root", {.serial = "0a", .reason = "unspecified", .revoked = kTime});
       },
       "certificate 0a is already revoked by key 'root'"},
      {"duplicate custodian",
       [](Keystore& k) { k.replace_share_set(sample_share_set(1, {"bob", "bob"}, 2)); },
       "custodian 'bob' appears twice in the share set, or shares a group and member index "
       "with another custodian"},
      // not found
      {"find user", [](Keystore& k) { k.update_user_secrets("zed", {}, kTime); },
       "user 'zed' not found"},
      {"delete user", [](Keystore& k) { k.delete_user("zed"); }, "user 'zed' not found"},
      {"count failure", [](Keystore& k) { k.record_auth_failure("zed", 3); },
       "user 'zed' not found"},
      {"reset failures", [](Keystore& k) { k.reset_failures("zed"); }, "user 'zed' not found"},
      {"lock", [](Keystore& k) { k.set_locked("zed", false); }, "user 'zed' not found"},
      {"otp enrol", [](Keystore& k) { k.set_user_otp("zed", std::nullopt, false); },
       "user 'zed' not found"},
      {"otp step", [](Keystore& k) { k.accept_otp_step("zed", 5); }, "user 'zed' not found"},
      {"crl number", [](Keystore& k) { k.next_crl_number("nope"); }, "key 'nope' not found"},
      {"revoke", [](Keystore& k) { k.add_revocation("nope", {}); }, "key 'nope' not found"},
      {"revocations", [](Keystore& k) { k.list_revocations("nope"); }, "key 'nope' not found"},
      {"key status", [](Keystore& k) { k.set_key_status("nope", "retired"); },
       "key 'nope' not found"},
      {"add to unknown group", [](Keystore& k) { k.add_group_member(sample_member("qa", "bob")); },
       "group 'qa' not found"},
      {"add unknown user", [](Keystore& k) { k.add_group_member(sample_member("ops", "zed")); },
       "user 'zed' not found"},
      {"remove non-member", [](Keystore& k) { k.remove_group_member("ops", "bob"); },
       "user 'bob' is not a member of group 'ops'"},
      {"remove from unknown group", [](Keystore& k) { k.remove_group_member("qa", "bob"); },
       "group 'qa' not found"},
      {"members of unknown group", [](Keystore& k) { k.list_group_members("qa"); },
       "group 'qa' not found"},
      {"delete unknown group", [](Keystore& k) { k.delete_group("qa"); }, "group 'qa' not found"},
      {"rotate unknown group", [](Keystore& k) { k.replace_group_key(sample_group("qa", 2), {}); },
       "group 'qa' not found"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto before = ks_.export_all();
    const Error e = error_from([&] { c.action(ks_); });
    EXPECT_EQ(e.category(), Category::not_found);
    EXPECT_EQ(e.what(), c.message);
    EXPECT_EQ(ks_.export_all(), before);  // a refusal changes nothing
  }
}

TEST(KeystoreErrors, ReshareWithoutMasterIsNotFound) {
  TempDir dir;
  Keystore ks(dir.path());
  Error e = error_from([&] { ks.replace_share_set(sample_share_set(1, {"a", "b"}, 2)); });
  EXPECT_EQ(e.category(), Category::not_found);
  EXPECT_STREQ(e.what(), "this workspace has no master key; run hsmctl master init first");
  e = error_from([&] { ks.set_master_active(true); });
  EXPECT_EQ(e.category(), Category::not_found);
}

INSTANTIATE_TEST_SUITE_P(Backends, ErrorsTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace hsm::keystore::test
