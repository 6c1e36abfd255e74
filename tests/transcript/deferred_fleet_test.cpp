// Deferred signatures in a fleet (docs/design.md, "Deferred signatures" and "The fleet"): a
// workspace whose transcript holds a service batch's covered unsigned entries from before it
// joined a fleet gives them to the database as they are, another node's replica copies them
// with the signed entry that covers them, a fleet's appends are signed even when deferral is
// asked, and an unsigned run at the end of the database's transcript (put there by hand) is
// refused, with what was checked before it kept. PostgreSQL only (scripts/lib/pg_pass.sh).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/fleet_log.h"
#include "core/transcript/verify.h"
#include "keystore/fixture.h"
#include "support/forge.h"
#include "support/hsm_fixture.h"

namespace hsm::transcript {
namespace {

using keystore::Backend;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DeferredFleet : public ::testing::TestWithParam<Backend> {};

TEST_P(DeferredFleet, CoveredEntriesReplicateAndAnUncoveredRunInTheDatabaseIsRefused) {
  if (keystore::test::test_pg_url().empty())
    GTEST_SKIP() << "PostgreSQL case: set HSMCTL_TEST_PG (scripts/lib/pg_cluster.sh)";
  keystore::test::PgSchema schema;
  hsm::test::TempDir a, b;
  const auto file_a = a.path() / "transcript.jsonl", file_b = b.path() / "transcript.jsonl";
  test::ForgedSigner signer;
  const std::string open_c = "00000000-0000-4000-8000-00000000000a";
  const std::string batch = "00000000-0000-4000-8000-00000000000b";
  {  // A's days before the fleet: a service batch, two unsigned entries and their seal.
    Transcript t(file_a);
    t.append("transcript.open", "test", open_c,
             {{"alg", kAlgorithm}, {"public_key", to_base64(signer.public_key())}, {"key_id", "01"}},
             signer);
    t.append("ceremony.begin", "test", batch, {{"what", "serve.sign"}}, signer);
    t.defer_signatures(true);
    EXPECT_EQ(t.append("user.signed", "test", batch, {{"n", 1}}, signer).sig, "");
    EXPECT_EQ(t.append("user.signed", "test", batch, {{"n", 2}}, signer).sig, "");
    t.defer_signatures(false);
    t.append("ceremony.sealed", "test", batch, {{"entries", 2}}, signer);
  }
  FleetLog la(schema.url(), "node-a"), lb(schema.url(), "node-b");
  la.ensure_table();
  {  // A joins: the database is given A's file as it is.
    Transcript t(file_a);
    t.set_fleet(&la);
    t.sync_with_fleet();
  }
  EXPECT_EQ(la.size(), 5u);
  {  // B's replica copies it, the unsigned entries with the seal that covers them.
    Transcript t(file_b);
    t.set_fleet(&lb);
    t.sync_with_fleet();
  }
  EXPECT_EQ(read_all(file_b), read_all(file_a));
  {  // In a fleet every entry is signed, deferral asked or not.
    Transcript t(file_a);
    t.set_fleet(&la);
    t.defer_signatures(true);
    EXPECT_NE(t.append("user.signed", "test", batch, {{"n", 3}}, signer).sig, "");
  }
  const VerifyReport r = verify_transcript(read_all(file_a), VerifyOptions{});
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.unsigned_entries, 2u);

  // Someone with the database's password adds a well-chained unsigned entry at its end.
  const Entry last = test::parse_line(test::split_lines(read_all(file_a)).back());
  Entry fake = last;
  fake.seq = last.seq + 1;
  fake.prev = last.hash;
  fake.data = {{"n", 4}};
  fake.hash = body_hash(fake);
  fake.sig = "";
  {
    FleetLog::Txn txn(la);
    la.insert(fake.seq, to_line(fake), "node-a");
    txn.commit();
  }
  Transcript t(file_b);
  t.set_fleet(&lb);
  try {
    t.sync_with_fleet();
    FAIL() << "an uncovered unsigned entry was copied";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find("unsigned"), std::string::npos) << e.what();
  }
  // The signed entry before it was checked and kept; the unsigned one was not written.
  EXPECT_EQ(read_all(file_b), read_all(file_a));
}

INSTANTIATE_TEST_SUITE_P(Backends, DeferredFleet, ::testing::Values(Backend::postgresql),
                         keystore::test::backend_name);

}  // namespace
}  // namespace hsm::transcript
