// Signing-key records: round trip, escrow kinds, CRL numbers, revocations, status.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_P(KeystoreTest, KeyRoundTripsForEveryEscrowKind) {
  const auto root = sample_key("root");
  const auto quorum = sample_key("offline-root", "qk");
  auto transcript = sample_key("transcript", "mk-wrap");
  transcript.purpose = "transcript";
  auto ed = sample_key("release", "none");
  ed.algorithm = "ed25519";
  ed.purpose = "code";
  for (const auto& k : {root, quorum, transcript, ed}) ks_.insert_key(k);

  EXPECT_EQ(ks_.find_key("root"), root);
  EXPECT_EQ(ks_.find_key("offline-root"), quorum);
  EXPECT_EQ(ks_.find_key("transcript"), transcript);
  EXPECT_EQ(ks_.find_key("release"), ed);
  EXPECT_FALSE(ks_.find_key("release")->wrapped_key.has_value());
  EXPECT_EQ(ks_.find_key("nope"), std::nullopt);
  const auto all = ks_.list_keys();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].label, "offline-root");  // by label
}

TEST_P(KeystoreTest, QuorumPolicyMustMatchEscrow) {
  auto k = sample_key("root");
  k.quorum = 2;  // a quorum key must be wrapped under QK, not MK-wrap
  const Error e = error_from([&] { ks_.insert_key(k); });
  EXPECT_TRUE(e.cause().starts_with(constraint_cause("SQLITE_CONSTRAINT_CHECK", "23514"))) << e.cause();
}

TEST_P(KeystoreTest, NextCrlNumberIsMonotonicPerKey) {
  ks_.insert_key(sample_key("root"));
  ks_.insert_key(sample_key("other"));
  for (std::int64_t expected = 1; expected <= 5; ++expected)
    EXPECT_EQ(ks_.next_crl_number("root"), expected);
  EXPECT_EQ(ks_.next_crl_number("other"), 1);
  EXPECT_EQ(ks_.find_key("root")->crl_number, 5);
}

TEST_P(KeystoreTest, CrlNumberRolledBackWithItsTransaction) {
  ks_.insert_key(sample_key("root"));
  EXPECT_EQ(ks_.next_crl_number("root"), 1);
  {
    Transaction tx(ks_);
    EXPECT_EQ(ks_.next_crl_number("root"), 2);
  }  // the CRL was never written
  EXPECT_EQ(ks_.next_crl_number("root"), 2);
}

TEST_P(KeystoreTest, RevocationsAccumulatePerIssuer) {
  ks_.insert_key(sample_key("root"));
  ks_.insert_key(sample_key("other"));
  const Revocation a{.serial = "0a0b", .reason = "keyCompromise", .revoked = kTime};
  const Revocation b{.serial = "0c0d", .reason = "unspecified", .revoked = kTime};
  ks_.add_revocation("root", a);
  ks_.add_revocation("root", b);
  EXPECT_EQ(ks_.list_revocations("root"), (std::vector<Revocation>{a, b}));
  EXPECT_TRUE(ks_.list_revocations("other").empty());
}

TEST_P(KeystoreTest, KeyStatusChanges) {
  ks_.insert_key(sample_key("root"));
  ks_.set_key_status("root", "retired");
  EXPECT_EQ(ks_.find_key("root")->status, "retired");
}

}  // namespace
}  // namespace hsm::keystore::test
