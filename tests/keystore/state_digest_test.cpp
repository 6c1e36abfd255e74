// A new user's state digest, computed from the row its INSERT returns, is the digest of the row
// as read back from the table (for users with and without their optional columns), and the
// state tables of an earlier layout are rebuilt on open.
#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST(KeystoreStateDigest, AnInsertedUsersDigestIsTheDigestOfItsRowReadBack) {
  TempDir dir;
  Keystore ks(dir.path());
  ks.insert_user(sample_user("alice"));
  ks.insert_user(sample_user("bob", false));  // NULL OTP seed and agreement key
  const auto recorded = ks.take_changed_rows();
  ASSERT_EQ(recorded.size(), 2u);
  for (const auto& [key, digest] : recorded) {
    EXPECT_EQ(digest.size(), 64u) << key;
    EXPECT_EQ(digest, ks.row_digest(key)) << key;
  }
  EXPECT_EQ(ks.state_root(), ks.computed_root());
}

TEST(KeystoreStateDigest, AnEarlierLayoutIsRebuiltOnOpen) {
  TempDir dir;
  std::string root;
  {
    Keystore ks(dir.path());
    ks.insert_user(sample_user("alice"));
    root = ks.state_root();
  }
  // The layout before: digests keyed by row key, with a bucket index beside them.
  raw_sql(Keystore::file_in(dir.path()),
          "DROP TABLE state_digests; CREATE TABLE state_digests (row_key TEXT PRIMARY KEY, "
          "bucket INTEGER NOT NULL, digest BLOB NOT NULL) WITHOUT ROWID; "
          "CREATE INDEX state_digests_by_bucket ON state_digests (bucket);");
  Keystore again(dir.path());
  EXPECT_EQ(again.state_root(), root);
  EXPECT_EQ(again.computed_root(), root);
  EXPECT_TRUE(again.row_in_state("user/alice", root));
}

}  // namespace
}  // namespace hsm::keystore::test
