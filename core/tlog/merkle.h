// The Merkle tree over the transcript (RFC 9162 section 2.1, SHA-256): leaf and node hashes,
// tree heads, inclusion and consistency proofs, and their verification. Works over any store
// of tile-level hashes (HashSource), so proofs read O(log n) hashes, never the whole log.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace hsm::tlog {

using Hash = std::array<std::uint8_t, 32>;

inline constexpr unsigned kTileHeight = 8;       // a tile is a subtree of height 8 ...
inline constexpr std::uint64_t kTileWidth = 256;  // ... with 256 hashes at its base

Hash leaf_hash(ByteView entry);                      // SHA-256(0x00 || entry)
Hash node_hash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash empty_root();                                    // SHA-256 of the empty string
std::string to_hex(const Hash& h);
std::string to_base64(const Hash& h);
// Throws Error(integrity) unless `b64` is the base64 of exactly 32 bytes.
Hash hash_from_base64(std::string_view b64);

// Stored hashes by height: at height k, hash i is the Merkle tree hash of the complete
// subtree of leaves [i * 2^k, (i + 1) * 2^k). Height 0 holds the leaf hashes; a hash exists
// only once its whole range of leaves does. C2SP tlog-tiles level L is height 8 L.
class HashSource {
 public:
  virtual ~HashSource() = default;
  virtual std::uint64_t size() const = 0;  // leaves
  // Hashes [index, index + out.size()) of height `height`; throws if any is not stored.
  virtual void read(unsigned height, std::uint64_t index, std::span<Hash> out) = 0;
};

// MTH(D[lo:hi]) for 0 <= lo < hi <= size (RFC 9162 section 2.1.1).
Hash subtree_root(HashSource& src, std::uint64_t lo, std::uint64_t hi);
// MTH(D[0:n]); the empty root for n = 0.
Hash tree_root(HashSource& src, std::uint64_t n);
// PATH(index, D[0:n]) (section 2.1.3.1) and PROOF(m, D[0:n]) (section 2.1.4.1).
std::vector<Hash> inclusion_proof(HashSource& src, std::uint64_t index, std::uint64_t n);
std::vector<Hash> consistency_proof(HashSource& src, std::uint64_t m, std::uint64_t n);

// Sections 2.1.3.2 and 2.1.4.2: true only when the proof links exactly these values.
bool verify_inclusion(std::uint64_t index, std::uint64_t n, const Hash& leaf,
                      std::span<const Hash> proof, const Hash& root);
bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& root_m, const Hash& root_n,
                        std::span<const Hash> proof);

// All heights of a tree held in memory, built from its leaf hashes: for a verifier that has
// the whole log, and for tests.
class MemoryTree : public HashSource {
 public:
  void append(const Hash& leaf);
  std::uint64_t size() const override { return heights_.empty() ? 0 : heights_[0].size(); }
  void read(unsigned height, std::uint64_t index, std::span<Hash> out) override;
  const std::vector<Hash>& height(unsigned k) const { return heights_.at(k); }

 private:
  std::vector<std::vector<Hash>> heights_;
};

// The hashes that become complete when leaf number `n - 1` is added (n leaves in all): one
// per height k >= 1 with 2^k dividing n, lowest first. `left(k)` returns the stored hash of
// height k - 1 just before the new one's right child (index n / 2^(k-1) - 2).
template <class Left>
std::vector<Hash> completed_by(std::uint64_t n, const Hash& leaf, Left left) {
  std::vector<Hash> out;
  Hash right = leaf;
  for (unsigned k = 1; n % (std::uint64_t{1} << k) == 0; ++k) {
    right = node_hash(left(k), right);
    out.push_back(right);
  }
  return out;
}

}  // namespace hsm::tlog
