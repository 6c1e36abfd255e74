// RFC 9162 section 2.1 over tile-level hashes: the recursions of 2.1.1, 2.1.3.1 and 2.1.4.1,
// with every complete, aligned subtree taken from the stored level that covers it.
#include "core/tlog/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/error.h"

namespace hsm::tlog {

namespace {

// EVP_sha256() looks the implementation up on every call; fetched once, it is twice as fast
// for these 33- and 65-byte inputs.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

Hash digest2(std::uint8_t prefix, ByteView a, ByteView b) {
  Hash out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, sha256_md(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
                  (b.empty() || EVP_DigestUpdate(ctx, b.data(), b.size()) == 1) &&
                  EVP_DigestFinal_ex(ctx, out.data(), nullptr) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) fail(Category::general, "SHA-256 failed in OpenSSL");
  return out;
}

// The largest power of two strictly less than n (n >= 2).
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

// MTH of the complete subtree of 2^k leaves starting at leaf index << k: one stored hash.
Hash aligned_root(HashSource& src, unsigned k, std::uint64_t index) {
  Hash h{};
  src.read(k, index, std::span<Hash>(&h, 1));
  return h;
}

void path(HashSource& src, std::uint64_t m, std::uint64_t lo, std::uint64_t hi,
          std::vector<Hash>& out) {
  if (hi - lo <= 1) return;
  const std::uint64_t k = split_point(hi - lo);
  if (m < k) {
    path(src, m, lo, lo + k, out);
    out.push_back(subtree_root(src, lo + k, hi));
  } else {
    path(src, m - k, lo + k, hi, out);
    out.push_back(subtree_root(src, lo, lo + k));
  }
}

void subproof(HashSource& src, std::uint64_t m, std::uint64_t lo, std::uint64_t hi, bool whole,
              std::vector<Hash>& out) {
  const std::uint64_t n = hi - lo;
  if (m == n) {
    if (!whole) out.push_back(subtree_root(src, lo, hi));
    return;
  }
  const std::uint64_t k = split_point(n);
  if (m <= k) {
    subproof(src, m, lo, lo + k, whole, out);
    out.push_back(subtree_root(src, lo + k, hi));
  } else {
    subproof(src, m - k, lo + k, hi, false, out);
    out.push_back(subtree_root(src, lo, lo + k));
  }
}

void check_range(HashSource& src, std::uint64_t n) {
  if (n > src.size())
    fail(Category::usage, "tree size " + std::to_string(n) + " is larger than the log (" +
                              std::to_string(src.size()) + " entries)");
}

}  // namespace

Hash leaf_hash(ByteView entry) { return digest2(0x00, entry, {}); }

Hash node_hash(const Hash& left, const Hash& right) { return digest2(0x01, left, right); }

Hash empty_root() {
  Hash out{};
  if (EVP_Digest("", 0, out.data(), nullptr, sha256_md(), nullptr) != 1)
    fail(Category::general, "SHA-256 failed in OpenSSL");
  return out;
}

std::string to_hex(const Hash& h) { return hsm::to_hex(h); }
std::string to_base64(const Hash& h) { return hsm::to_base64(h); }

Hash hash_from_base64(std::string_view b64) {
  const Bytes b = from_base64(b64);
  if (b.size() != 32) fail(Category::integrity, "a tree hash is not 32 bytes of base64");
  Hash h{};
  std::memcpy(h.data(), b.data(), h.size());
  return h;
}

Hash subtree_root(HashSource& src, std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t n = hi - lo;
  if (std::has_single_bit(n) && lo % n == 0)
    return aligned_root(src, static_cast<unsigned>(std::countr_zero(n)), lo / n);
  const std::uint64_t k = split_point(n);
  return node_hash(subtree_root(src, lo, lo + k), subtree_root(src, lo + k, hi));
}

Hash tree_root(HashSource& src, std::uint64_t n) {
  check_range(src, n);
  return n == 0 ? empty_root() : subtree_root(src, 0, n);
}

std::vector<Hash> inclusion_proof(HashSource& src, std::uint64_t index, std::uint64_t n) {
  check_range(src, n);
  if (index >= n)
    fail(Category::usage, "entry " + std::to_string(index) + " is not in a tree of size " +
                              std::to_string(n));
  std::vector<Hash> out;
  path(src, index, 0, n, out);
  return out;
}

std::vector<Hash> consistency_proof(HashSource& src, std::uint64_t m, std::uint64_t n) {
  check_range(src, n);
  if (m > n)
    fail(Category::usage, "a consistency proof needs the smaller size first (" +
                              std::to_string(m) + " > " + std::to_string(n) + ")");
  std::vector<Hash> out;
  if (m > 0) subproof(src, m, 0, n, true, out);
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t n, const Hash& leaf,
                      std::span<const Hash> proof, const Hash& root) {
  if (index >= n) return false;
  std::uint64_t fn = index, sn = n - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& root_m, const Hash& root_n,
                        std::span<const Hash> proof) {
  if (m > n) return false;
  if (m == n) return proof.empty() && root_m == root_n;
  if (m == 0) return proof.empty();
  std::vector<Hash> path(proof.begin(), proof.end());
  if (std::has_single_bit(m)) path.insert(path.begin(), root_m);
  if (path.empty()) return false;
  std::uint64_t fn = m - 1, sn = n - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == root_m && sr == root_n && sn == 0;
}

void MemoryTree::append(const Hash& leaf) {
  if (heights_.empty()) heights_.emplace_back();
  heights_[0].push_back(leaf);
  const std::uint64_t n = heights_[0].size();
  const std::vector<Hash> done = completed_by(n, leaf, [&](unsigned k) {
    return heights_[k - 1][(n >> (k - 1)) - 2];
  });
  for (unsigned k = 1; k <= done.size(); ++k) {
    if (heights_.size() == k) heights_.emplace_back();
    heights_[k].push_back(done[k - 1]);
  }
}

void MemoryTree::read(unsigned height, std::uint64_t index, std::span<Hash> out) {
  if (height >= heights_.size() || index + out.size() > heights_[height].size())
    fail(Category::general, "internal: tree hashes read beyond the tree");
  std::copy_n(heights_[height].begin() + static_cast<std::ptrdiff_t>(index), out.size(),
              out.begin());
}

}  // namespace hsm::tlog
