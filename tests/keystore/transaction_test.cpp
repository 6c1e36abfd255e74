// Transactions (rollback unless committed, nesting) and two connections or processes writing
// the same keystore at once without SQLITE_BUSY failures.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "tests/keystore/fixture.h"

namespace hsm::keystore::test {
namespace {

TEST_P(KeystoreTest, TransactionRollsBackWhenNotCommitted) {
  try {
    Transaction tx(ks_);
    ks_.insert_user(sample_user("alice"));
    ks_.insert_key(sample_key("root"));
    throw std::runtime_error("ceremony failed half way");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(ks_.find_user("alice"), std::nullopt);
  EXPECT_EQ(ks_.find_key("root"), std::nullopt);
}

TEST_P(KeystoreTest, CommittedTransactionKeepsEverything) {
  {
    Transaction tx(ks_);
    ks_.insert_user(sample_user("alice"));
    ks_.insert_user(sample_user("bob"));
    tx.commit();
  }
  EXPECT_EQ(ks_.list_users().size(), 2u);
}

TEST_P(KeystoreTest, FailedStepUndoesOnlyItsOwnChangesInsideACallersTransaction) {
  Transaction tx(ks_);
  ks_.insert_user(sample_user("alice"));
  // insert_group is atomic on its own: the group is inserted, then the unknown member fails.
  const Error e = error_from(
      [&] { ks_.insert_group(sample_group("ops"), {sample_member("ops", "mallory")}); });
  EXPECT_EQ(e.category(), Category::not_found);
  EXPECT_STREQ(e.what(), "user 'mallory' not found");
  tx.commit();
  EXPECT_EQ(ks_.find_group("ops"), std::nullopt);
  EXPECT_NE(ks_.find_user("alice"), std::nullopt);
}

TEST_P(KeystoreTest, InnerTransactionRollsBackAloneOuterCommits) {
  Transaction outer(ks_);
  ks_.insert_user(sample_user("alice"));
  {
    Transaction inner(ks_);
    ks_.insert_user(sample_user("bob"));
  }
  {
    Transaction inner(ks_);
    ks_.insert_user(sample_user("carol"));
    inner.commit();
  }
  outer.commit();
  EXPECT_NE(ks_.find_user("alice"), std::nullopt);
  EXPECT_EQ(ks_.find_user("bob"), std::nullopt);
  EXPECT_NE(ks_.find_user("carol"), std::nullopt);
}

TEST(KeystoreConcurrency, WriterWaitsForAnotherConnectionsTransaction) {
  TempDir dir;
  Keystore first(dir.path());
  Keystore second(dir.path());
  auto tx = std::make_unique<Transaction>(first);
  first.insert_user(sample_user("alice"));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    tx->commit();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(second.insert_user(sample_user("bob")));  // waits, does not fail
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  releaser.join();
  tx.reset();
  EXPECT_EQ(first.list_users().size(), 2u);
}

// What one process does in TwoProcessesWriteWithoutBusyErrors; returns an exit status.
int hammer(const fs::path& dir, const std::string& who, int rounds) {
  try {
    Keystore ks(dir);
    std::ofstream crl_numbers(dir / (who + ".crl"));
    for (int i = 0; i < rounds; ++i) {
      ks.insert_user(sample_user(who + "-" + std::to_string(i), false));
      {
        Transaction tx(ks);
        ks.record_auth_failure(who + "-" + std::to_string(i), 5);
        crl_numbers << ks.next_crl_number("root") << "\n";
        tx.commit();
      }
      crl_numbers << ks.next_crl_number("root") << "\n";
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: %s (%s)\n", who.c_str(), e.what(), e.cause().c_str());
    return 1;
  }
}

TEST(KeystoreConcurrency, TwoProcessesWriteWithoutBusyErrors) {
  TempDir dir;
  { Keystore(dir.path()).insert_key(sample_key("root")); }
  constexpr int kRounds = 150;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(hammer(dir.path(), "child", kRounds));
  const int parent_status = hammer(dir.path(), "parent", kRounds);
  int child_status = 0;
  ASSERT_EQ(::waitpid(child, &child_status, 0), child);
  EXPECT_EQ(parent_status, 0);
  ASSERT_TRUE(WIFEXITED(child_status));
  EXPECT_EQ(WEXITSTATUS(child_status), 0);

  Keystore ks(dir.path());
  EXPECT_EQ(ks.list_users().size(), 2u * kRounds);
  // Every CRL number was handed out exactly once across both processes.
  std::multiset<std::int64_t> seen;
  for (const char* who : {"parent", "child"}) {
    std::ifstream in(dir.path() / (std::string(who) + ".crl"));
    for (std::int64_t n; in >> n;) seen.insert(n);
  }
  ASSERT_EQ(seen.size(), 4u * kRounds);
  std::int64_t expected = 1;
  for (auto n : seen) EXPECT_EQ(n, expected++);
  EXPECT_EQ(ks.find_key("root")->crl_number, 4 * kRounds);
}

TEST(KeystoreConcurrency, ProcessesOpeningANewWorkspaceAtOnceMigrateOnce) {
  TempDir dir;
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        Keystore ks(dir.path());
        ks.set_meta("opened-by-" + std::to_string(i), "yes");
        ::_exit(0);
      } catch (const Error& e) {
        std::fprintf(stderr, "process %d: %s (%s)\n", i, e.what(), e.cause().c_str());
        ::_exit(1);
      }
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Keystore ks(dir.path());
  EXPECT_EQ(ks.schema_version(), latest_schema_version());
  for (int i = 0; i < kProcesses; ++i) EXPECT_EQ(ks.meta("opened-by-" + std::to_string(i)), "yes");
  EXPECT_TRUE(ks.integrity_check().empty());
}

}  // namespace
}  // namespace hsm::keystore::test
