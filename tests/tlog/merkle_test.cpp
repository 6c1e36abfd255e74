// Tree heads and proofs of core/tlog/merkle against a naive recomputation of RFC 9162 section
// 2.1 straight from the leaves, for every tree size from 1 to 300 and every index.
#include "core/tlog/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "core/error.h"

namespace hsm::tlog {
namespace {

// MTH(D[lo:hi]) by the definition, with no stored levels (remembered: the proofs of 45 000
// pairs of sizes ask for the same few ranges again and again).
Hash naive_root(const std::vector<Hash>& leaves, std::size_t lo, std::size_t hi) {
  static std::map<std::pair<std::size_t, std::size_t>, Hash> known;
  if (hi - lo == 1) return leaves[lo];
  if (auto it = known.find({lo, hi}); it != known.end()) return it->second;
  const std::size_t k = std::bit_floor(hi - lo - 1);
  const Hash h = node_hash(naive_root(leaves, lo, lo + k), naive_root(leaves, lo + k, hi));
  known.emplace(std::pair{lo, hi}, h);
  return h;
}

// PATH and PROOF by the definition (RFC 9162 2.1.3.1, 2.1.4.1).
void naive_path(const std::vector<Hash>& d, std::size_t m, std::size_t lo, std::size_t hi,
                std::vector<Hash>& out) {
  if (hi - lo == 1) return;
  const std::size_t k = std::bit_floor(hi - lo - 1);
  if (m < k) {
    naive_path(d, m, lo, lo + k, out);
    out.push_back(naive_root(d, lo + k, hi));
  } else {
    naive_path(d, m - k, lo + k, hi, out);
    out.push_back(naive_root(d, lo, lo + k));
  }
}
void naive_subproof(const std::vector<Hash>& d, std::size_t m, std::size_t lo, std::size_t hi,
                    bool b, std::vector<Hash>& out) {
  if (m == hi - lo) {
    if (!b) out.push_back(naive_root(d, lo, hi));
    return;
  }
  const std::size_t k = std::bit_floor(hi - lo - 1);
  if (m <= k) {
    naive_subproof(d, m, lo, lo + k, b, out);
    out.push_back(naive_root(d, lo + k, hi));
  } else {
    naive_subproof(d, m - k, lo + k, hi, false, out);
    out.push_back(naive_root(d, lo, lo + k));
  }
}

class Merkle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (int i = 0; i < 300; ++i) {
      const std::string entry = "{\"seq\":" + std::to_string(i) + "}";
      leaves_.push_back(leaf_hash(as_bytes(entry)));
    }
  }
  static std::vector<Hash> leaves_;
};
std::vector<Hash> Merkle::leaves_;

TEST_F(Merkle, LeafAndNodeHashesFollowRfc9162) {
  // SHA-256 of the empty string, of 0x00 alone (the empty leaf), and of 0x01 || 64 zero bytes.
  EXPECT_EQ(to_hex(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(leaf_hash({})),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(to_hex(node_hash(Hash{}, Hash{})),
            "ae0798d0ecaed2b778eddebf18f071a561c53658c05e76cedecc27cafbdbc577");
}

TEST_F(Merkle, RootsOfEverySizeMatchTheDefinition) {
  MemoryTree tree;
  for (std::size_t n = 1; n <= leaves_.size(); ++n) {
    tree.append(leaves_[n - 1]);
    ASSERT_EQ(tree_root(tree, n), naive_root(leaves_, 0, n)) << n;
  }
  EXPECT_EQ(tree_root(tree, 0), empty_root());
  EXPECT_EQ(tree.height(8).size(), 1u);  // one full tile of 256 leaves
  EXPECT_EQ(tree.height(8)[0], naive_root(leaves_, 0, 256));
  EXPECT_EQ(tree.height(3).size(), 37u);  // 300 / 8 complete subtrees of 8 leaves
  EXPECT_EQ(tree.height(3)[36], naive_root(leaves_, 288, 296));
}

TEST_F(Merkle, InclusionProofsForEveryIndexOfEverySize) {
  MemoryTree tree;
  for (const Hash& h : leaves_) tree.append(h);
  for (std::size_t n = 1; n <= leaves_.size(); ++n) {
    const Hash root = naive_root(leaves_, 0, n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = inclusion_proof(tree, i, n);
      std::vector<Hash> expected;
      naive_path(leaves_, i, 0, n, expected);
      ASSERT_EQ(proof, expected) << i << " in " << n;
      ASSERT_TRUE(verify_inclusion(i, n, leaves_[i], proof, root)) << i << " in " << n;
      // Another leaf, another index, another size or a changed hash must not verify.
      ASSERT_FALSE(verify_inclusion(i, n, leaves_[(i + 1) % leaves_.size()], proof, root));
      if (n > 1) {
        ASSERT_FALSE(verify_inclusion((i + 1) % n, n, leaves_[i], proof, root));
      }
      if (n < leaves_.size()) {  // the proof for size n does not prove inclusion in size n + 1
        ASSERT_FALSE(verify_inclusion(i, n + 1, leaves_[i], proof, naive_root(leaves_, 0, n + 1)));
      }
      if (!proof.empty()) {
        std::vector<Hash> bad = proof;
        bad.back()[7] ^= 1;
        ASSERT_FALSE(verify_inclusion(i, n, leaves_[i], bad, root));
        bad = proof;
        bad.pop_back();
        ASSERT_FALSE(verify_inclusion(i, n, leaves_[i], bad, root));
      }
    }
  }
}

TEST_F(Merkle, ConsistencyProofsForEveryPairOfSizes) {
  MemoryTree tree;
  for (const Hash& h : leaves_) tree.append(h);
  for (std::size_t n = 1; n <= leaves_.size(); ++n) {
    const Hash root_n = naive_root(leaves_, 0, n);
    for (std::size_t m = 1; m <= n; ++m) {
      const Hash root_m = naive_root(leaves_, 0, m);
      const std::vector<Hash> proof = consistency_proof(tree, m, n);
      std::vector<Hash> expected;
      if (m < n) naive_subproof(leaves_, m, 0, n, true, expected);
      ASSERT_EQ(proof, expected) << m << " -> " << n;
      ASSERT_TRUE(verify_consistency(m, n, root_m, root_n, proof)) << m << " -> " << n;
      if (m < n) {
        // A fork: the same sizes with another old root, or another new root, must fail.
        Hash other = root_m;
        other[0] ^= 1;
        ASSERT_FALSE(verify_consistency(m, n, other, root_n, proof)) << m << " -> " << n;
        other = root_n;
        other[31] ^= 1;
        ASSERT_FALSE(verify_consistency(m, n, root_m, other, proof)) << m << " -> " << n;
        if (n + 1 <= leaves_.size()) {
          ASSERT_FALSE(verify_consistency(m, n + 1, root_m, naive_root(leaves_, 0, n + 1), proof));
        }
      }
    }
  }
  EXPECT_TRUE(verify_consistency(0, 5, empty_root(), naive_root(leaves_, 0, 5), {}));
  EXPECT_FALSE(verify_consistency(6, 5, naive_root(leaves_, 0, 6), naive_root(leaves_, 0, 5), {}));
}

TEST_F(Merkle, SizesBeyondTheLogAreUsageErrors) {
  MemoryTree tree;
  for (int i = 0; i < 10; ++i) tree.append(leaves_[i]);
  EXPECT_THROW(tree_root(tree, 11), Error);
  EXPECT_THROW(inclusion_proof(tree, 10, 10), Error);
  EXPECT_THROW(consistency_proof(tree, 7, 3), Error);
}

}  // namespace
}  // namespace hsm::tlog
