// User records: round trip, password change, failure counting and lockout, OTP steps, delete.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_P(KeystoreTest, UserRoundTripsWithAndWithoutOptionalParts) {
  const auto full = sample_user("alice");
  const auto bare = sample_user("bob", false);
  ks_.insert_user(full);
  ks_.insert_user(bare);
  EXPECT_EQ(ks_.find_user("alice"), full);
  EXPECT_EQ(ks_.find_user("bob"), bare);
  EXPECT_FALSE(ks_.find_user("bob")->otp.seed.has_value());
  EXPECT_EQ(ks_.find_user("carol"), std::nullopt);
  const auto all = ks_.list_users();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alice");
  EXPECT_EQ(all[1].name, "bob");
  EXPECT_EQ(ks_.user_names(), (std::vector<std::string>{"alice", "bob"}));
}

TEST_P(KeystoreTest, LargeKdfLimitsAndEmptyBlobsSurvive) {
  auto u = sample_user("alice");
  u.secrets.kdf.memlimit = 1ull << 30;  // libsodium's "sensitive" profile
  u.secrets.kdf.opslimit = 4;
  u.secrets.signing_key.nonce = {};  // empty is stored as an empty blob, not NULL
  ks_.insert_user(u);
  EXPECT_EQ(ks_.find_user("alice"), u);
}

TEST_P(KeystoreTest, UpdateUserSecretsReplacesTheSealedLayersAtOnce) {
  ks_.insert_user(sample_user("alice"));
  UserSecrets next = sample_user("alice").secrets;
  next.key_version = 2;
  next.kdf.salt = filler("newsalt", 16);
  next.signing_key = {.ciphertext = filler("reseal", 96), .nonce = filler("nn", 12)};
  next.ecdh_key = SealedBlob{.ciphertext = filler("reseal-ecdh", 96), .nonce = filler("mm", 12)};
  ks_.update_user_secrets("alice", next, "2027-01-01T00:00:00Z");
  const auto after = ks_.find_user("alice");
  EXPECT_EQ(after->secrets, next);
  EXPECT_EQ(after->rotated, "2027-01-01T00:00:00Z");
  EXPECT_EQ(after->created, kTime);
  EXPECT_EQ(after->otp, sample_user("alice").otp);  // the OTP seed is not password-sealed
}

TEST_P(KeystoreTest, FailuresLockTheUserAtTheLimitAndUnlockResets) {
  ks_.insert_user(sample_user("alice"));
  EXPECT_EQ(ks_.record_auth_failure("alice", 3).failures, 1);
  EXPECT_FALSE(ks_.record_auth_failure("alice", 3).locked);
  const auto third = ks_.record_auth_failure("alice", 3);
  EXPECT_EQ(third.failures, 3);
  EXPECT_TRUE(third.locked);
  EXPECT_TRUE(ks_.find_user("alice")->locked);

  ks_.set_locked("alice", false);
  EXPECT_FALSE(ks_.find_user("alice")->locked);
  EXPECT_EQ(ks_.find_user("alice")->failures, 0);

  ks_.record_auth_failure("alice", 0);  // no limit configured: counts, never locks
  ks_.record_auth_failure("alice", 0);
  ks_.record_auth_failure("alice", 0);
  ks_.record_auth_failure("alice", 0);
  EXPECT_FALSE(ks_.find_user("alice")->locked);
  ks_.reset_failures("alice");
  EXPECT_EQ(ks_.find_user("alice")->failures, 0);

  ks_.set_locked("alice", true);
  EXPECT_TRUE(ks_.find_user("alice")->locked);
}

TEST_P(KeystoreTest, OtpStepIsAcceptedOnceAndNeverAnOlderOne) {
  ks_.insert_user(sample_user("alice", false));
  const SealedBlob seed{.ciphertext = filler("seed", 36), .nonce = filler("s", 12)};
  ks_.set_user_otp("alice", seed, true);
  EXPECT_EQ(ks_.find_user("alice")->otp,
            (OtpState{.seed = seed, .enrolled = true, .last_step = 0}));
  EXPECT_TRUE(ks_.accept_otp_step("alice", 1000));
  EXPECT_FALSE(ks_.accept_otp_step("alice", 1000));  // replay
  EXPECT_FALSE(ks_.accept_otp_step("alice", 999));   // older code, still in the window
  EXPECT_TRUE(ks_.accept_otp_step("alice", 1001));
  EXPECT_EQ(ks_.find_user("alice")->otp.last_step, 1001);

  ks_.set_user_otp("alice", std::nullopt, false);
  EXPECT_EQ(ks_.find_user("alice")->otp, OtpState{});
}

TEST_P(KeystoreTest, EnrolledOtpWithoutASeedIsRefusedBySchema) {
  ks_.insert_user(sample_user("alice", false));
  const Error e = error_from([&] { ks_.set_user_otp("alice", std::nullopt, true); });
  EXPECT_EQ(e.category(), Category::general);
  EXPECT_TRUE(e.cause().starts_with(constraint_cause("SQLITE_CONSTRAINT_CHECK", "23514"))) << e.cause();
}

TEST_P(KeystoreTest, DeleteUserRemovesItButNotWhileInAGroup) {
  ks_.insert_user(sample_user("alice"));
  ks_.insert_user(sample_user("bob"));
  ks_.insert_group(sample_group("ops"), {sample_member("ops", "alice")});
  const Error e = error_from([&] { ks_.delete_user("alice"); });
  EXPECT_EQ(e.category(), Category::general);
  EXPECT_NE(std::string(e.what()).find("is a member of group(s) ops"), std::string::npos);
  EXPECT_NE(ks_.find_user("alice"), std::nullopt);

  ks_.delete_user("bob");
  EXPECT_EQ(ks_.find_user("bob"), std::nullopt);
  ks_.remove_group_member("ops", "alice");
  ks_.delete_user("alice");
  EXPECT_TRUE(ks_.list_users().empty());
}

TEST_P(KeystoreTest, AGuessInFlightWhenTheUserLocksNeverSucceeds) {
  ks_.insert_user(sample_user("alice", false));
  ks_.record_auth_failure("alice", 3);
  // This connection found alice unlocked at the start of its authentication; meanwhile another
  // one (another node, another process) counts the failures that lock her.
  ASSERT_FALSE(ks_.find_user("alice")->locked);
  const auto other = open_again();
  EXPECT_FALSE(other->record_auth_failure("alice", 3).was_locked);
  const auto locking = other->record_auth_failure("alice", 3);
  EXPECT_TRUE(locking.locked);
  EXPECT_FALSE(locking.was_locked);

  // The right guess of the first connection ends refused, with or without a code, and changes
  // nothing; a wrong one in flight is still counted, and says it found the user locked.
  EXPECT_EQ(ks_.accept_authentication("alice", std::nullopt), AuthAcceptance::locked);
  EXPECT_EQ(ks_.accept_authentication("alice", 1000), AuthAcceptance::locked);
  EXPECT_EQ(other->find_user("alice")->failures, 3);
  EXPECT_EQ(other->find_user("alice")->otp.last_step, 0);
  const auto late = ks_.record_auth_failure("alice", 3);
  EXPECT_TRUE(late.was_locked);
  EXPECT_EQ(late.failures, 4);

  // Unlocked: accepted, the step once, the failures reset.
  other->set_locked("alice", false);
  ks_.record_auth_failure("alice", 3);
  EXPECT_EQ(ks_.accept_authentication("alice", 1000), AuthAcceptance::accepted);
  EXPECT_EQ(other->find_user("alice")->failures, 0);
  EXPECT_EQ(other->find_user("alice")->otp.last_step, 1000);
  EXPECT_EQ(ks_.accept_authentication("alice", 1000), AuthAcceptance::reused);
  EXPECT_EQ(ks_.accept_authentication("alice", std::nullopt), AuthAcceptance::accepted);
  EXPECT_EQ(ks_.find_user("alice")->failures, 0);
}

TEST_P(KeystoreTest, InsertUsersStoresEachRowAndItsDigestAsInsertUserDoes) {
  // Names that need quoting in an array literal would be refused by the CLI; the store must not
  // care. Blobs with every byte value, an empty one, NULL optional columns.
  std::vector<UserRecord> users{sample_user("alice"), sample_user("bob", false),
                                sample_user("c\\\"d,{e}")};
  users[1].secrets.kdf.salt = Bytes{};
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  users[2].public_key = all;
  ks_.insert_users(users);
  for (const UserRecord& u : users) EXPECT_EQ(*ks_.find_user(u.name), u) << u.name;
  const auto recorded = ks_.take_changed_rows();
  ASSERT_EQ(recorded.size(), 3u);
  for (const auto& [key, digest] : recorded) EXPECT_EQ(digest, ks_.row_digest(key)) << key;
  EXPECT_EQ(ks_.state_root(), ks_.computed_root());
  const Error e = error_from([&] { ks_.insert_users({sample_user("dave"), sample_user("bob")}); });
  EXPECT_EQ(e.category(), Category::not_found);
  EXPECT_FALSE(ks_.find_user("dave"));
  EXPECT_EQ(ks_.state_root(), ks_.computed_root());
}

INSTANTIATE_TEST_SUITE_P(Backends, KeystoreTest,
                         ::testing::Values(Backend::sqlite, Backend::postgresql), backend_name);

}  // namespace
}  // namespace hsm::keystore::test
