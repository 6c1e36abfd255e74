// DIR/tlog/ against the transcript it indexes: caught up from any point, repaired after an
// interrupted write, rebuilt when removed, and refusing a truncated or rewritten log.
#include "core/tlog/tree_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace hsm::tlog {
namespace {

namespace fs = std::filesystem;

class TreeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hsmctl-tree-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = dir_ / "transcript.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void add_lines(int from, int to) {
    std::ofstream out(file_, std::ios::app);
    for (int i = from; i < to; ++i) {
      const std::string line = "{\"seq\":" + std::to_string(i) + ",\"pad\":\"" +
                               std::string(static_cast<std::size_t>(i % 7), 'x') + "\"}";
      out << line << '\n';
      expected_.append(leaf_hash(as_bytes(line)));
    }
  }
  // Opens the store afresh and catches it up with the file.
  Hash root_after_catch_up(std::uint64_t* size = nullptr) {
    TreeStore store(file_);
    const int fd = ::open(file_.c_str(), O_RDONLY);
    store.catch_up(fd, fs::file_size(file_));
    ::close(fd);
    if (size != nullptr) *size = store.size();
    return tree_root(store, store.size());
  }

  fs::path dir_, file_;
  MemoryTree expected_;
};

TEST_F(TreeStoreTest, CatchesUpInStepsAndMatchesTheTreeInMemory) {
  for (int n : {1, 2, 7, 255, 256, 257, 600, 1100}) {
    add_lines(static_cast<int>(expected_.size()), n);
    std::uint64_t size = 0;
    ASSERT_EQ(root_after_catch_up(&size), tree_root(expected_, expected_.size())) << n;
    ASSERT_EQ(size, static_cast<std::uint64_t>(n));
  }
  TreeStore store(file_);
  const int fd = ::open(file_.c_str(), O_RDONLY);
  store.catch_up(fd, fs::file_size(file_));
  ::close(fd);
  // Proofs from the files equal proofs from memory; entry ranges are the lines.
  EXPECT_EQ(inclusion_proof(store, 700, 1100), inclusion_proof(expected_, 700, 1100));
  EXPECT_EQ(consistency_proof(store, 300, 1100), consistency_proof(expected_, 300, 1100));
  const auto [begin, end] = store.entry_range(3);
  std::ifstream in(file_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(all.substr(begin, end - begin), "{\"seq\":3,\"pad\":\"xxx\"}\n");
}

TEST_F(TreeStoreTest, AnInterruptedIndexWriteIsRepairedAndARemovedIndexRebuilt) {
  add_lines(0, 1030);
  const Hash root = root_after_catch_up();
  // A crash after the leaf but before the heights above it: shorter height files.
  fs::resize_file(dir_ / "tlog" / "h3", 32 * 10);
  fs::resize_file(dir_ / "tlog" / "h9", 0);
  fs::resize_file(dir_ / "tlog" / "h0", 32 * 1029 + 5);  // and half a leaf
  EXPECT_EQ(root_after_catch_up(), root);
  EXPECT_EQ(fs::file_size(dir_ / "tlog" / "h3"), 32u * (1030 / 8));
  fs::remove_all(dir_ / "tlog");
  EXPECT_EQ(root_after_catch_up(), root);
}

TEST_F(TreeStoreTest, ATruncatedLogIsRefused) {
  add_lines(0, 50);
  root_after_catch_up();
  std::ifstream in(file_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  in.close();
  all.resize(all.rfind('\n', all.size() - 2) + 1);  // the last entry is gone
  std::ofstream(file_, std::ios::trunc) << all;
  try {
    root_after_catch_up();
    FAIL() << "a truncated log was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST_F(TreeStoreTest, ARewrittenLogIsRefused) {
  add_lines(0, 40);
  root_after_catch_up();
  std::ifstream in(file_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  in.close();
  all[all.size() - 4] = 'y';  // the last entry, same length
  std::ofstream(file_, std::ios::trunc) << all;
  try {
    root_after_catch_up();
    FAIL() << "a rewritten log was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity);
    EXPECT_NE(std::string(e.what()).find("rewritten"), std::string::npos) << e.what();
  }
}

// One store kept open across appends, as a Transcript keeps it: what it remembers of its own
// files (the last entry, the last hash of each height) must give the tree a fresh store reads,
// and must not let a rewrite or truncation between two appends through.
TEST_F(TreeStoreTest, AStoreKeptOpenAcrossAppendsMatchesAndStillRefusesRewrites) {
  add_lines(0, 3);
  TreeStore store(file_);
  const auto append_line = [&](int i) {
    const int fd = ::open(file_.c_str(), O_RDONLY);
    store.catch_up(fd, fs::file_size(file_));
    ::close(fd);
    const std::string line = "{\"seq\":" + std::to_string(i) + "}";
    std::ofstream(file_, std::ios::app) << line << '\n';
    store.append(line, fs::file_size(file_));
    expected_.append(leaf_hash(as_bytes(line)));
  };
  for (int i = 3; i < 530; ++i) append_line(i);
  ASSERT_EQ(store.size(), 530u);
  EXPECT_EQ(tree_root(store, 530), tree_root(expected_, 530));
  EXPECT_EQ(root_after_catch_up(), tree_root(expected_, 530));
  EXPECT_EQ(inclusion_proof(store, 511, 530), inclusion_proof(expected_, 511, 530));

  std::ifstream in(file_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  in.close();
  all[all.size() - 3] = '8';  // the last entry, same length
  std::ofstream(file_, std::ios::trunc) << all;
  try {
    append_line(530);
    FAIL() << "a log rewritten between two appends was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rewritten"), std::string::npos) << e.what();
  }
  all.resize(all.rfind('\n', all.size() - 2) + 1);
  std::ofstream(file_, std::ios::trunc) << all;
  try {
    append_line(530);
    FAIL() << "a log truncated between two appends was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hsm::tlog
