// Argon2id (RFC 9106, version 0x13), written from the RFC: H0 and the variable-length hash H'
// over libsodium's BLAKE2b, the two first blocks of each lane, the passes over memory with
// Argon2id's indexing (data-independent in the first half of pass 0), and the final tag.
#include "core/kdf/argon2_fill.h"

#include <sodium.h>

#include <bit>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include "core/error.h"

namespace hsm::kdf::detail {

static_assert(std::endian::native == std::endian::little,
              "Argon2 blocks are read and written as native 64-bit words");
static_assert(sizeof(Argon2Block) == 1024);

namespace {

constexpr std::uint32_t kArgon2Version = 0x13;
constexpr std::uint32_t kTypeArgon2id = 2;
constexpr std::uint32_t kArgon2Slices = 4;  // sync points per pass
constexpr std::uint32_t kAddressesPerBlock = 128;
constexpr std::size_t kBlake2bBlock = 128;

void argon2_store_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// BLAKE2b with a digest of 1..64 bytes; wipes its state when done.
class Argon2Blake2b {
 public:
  explicit Argon2Blake2b(std::size_t outlen) : outlen_(outlen) {
    crypto_generichash_blake2b_init(&state_, nullptr, 0, outlen);
  }
  ~Argon2Blake2b() { sodium_memzero(&state_, sizeof state_); }
  Argon2Blake2b(const Argon2Blake2b&) = delete;
  Argon2Blake2b& operator=(const Argon2Blake2b&) = delete;

  void add(const std::uint8_t* p, std::size_t n) {
    if (n != 0) crypto_generichash_blake2b_update(&state_, p, n);
  }
  void add(ByteView bytes) { add(bytes.data(), bytes.size()); }
  void add_le32(std::uint32_t v) {
    std::uint8_t b[4];
    argon2_store_le32(b, v);
    add(b, sizeof b);
  }
  // Length-prefixed, as H0 takes P, S, K and X.
  void add_sized(ByteView bytes) {
    add_le32(static_cast<std::uint32_t>(bytes.size()));
    add(bytes);
  }
  void finish(std::uint8_t* out) { crypto_generichash_blake2b_final(&state_, out, outlen_); }

 private:
  crypto_generichash_blake2b_state state_;
  std::size_t outlen_;
};

constexpr std::uint64_t kBlake2bIv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

constexpr std::uint8_t kBlake2bSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

// The working vector as sixteen named words, and the rounds unrolled with their message
// schedule known at compile time: GCC then keeps the state in registers (an array indexed
// through the schedule at run time took about 1.5 times as long here).
struct Blake2bState {
  std::uint64_t v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15;
};

[[gnu::always_inline]] inline void blake2b_g(std::uint64_t& a, std::uint64_t& b, std::uint64_t& c,
                                             std::uint64_t& d, std::uint64_t x, std::uint64_t y) {
  a = a + b + x;
  d = std::rotr(d ^ a, 32);
  c = c + d;
  b = std::rotr(b ^ c, 24);
  a = a + b + y;
  d = std::rotr(d ^ a, 16);
  c = c + d;
  b = std::rotr(b ^ c, 63);
}

template <std::size_t R>
[[gnu::always_inline]] inline void blake2b_round(Blake2bState& w, const std::uint64_t (&m)[16]) {
  constexpr const std::uint8_t* s = kBlake2bSigma[R];
  blake2b_g(w.v0, w.v4, w.v8, w.v12, m[s[0]], m[s[1]]);
  blake2b_g(w.v1, w.v5, w.v9, w.v13, m[s[2]], m[s[3]]);
  blake2b_g(w.v2, w.v6, w.v10, w.v14, m[s[4]], m[s[5]]);
  blake2b_g(w.v3, w.v7, w.v11, w.v15, m[s[6]], m[s[7]]);
  blake2b_g(w.v0, w.v5, w.v10, w.v15, m[s[8]], m[s[9]]);
  blake2b_g(w.v1, w.v6, w.v11, w.v12, m[s[10]], m[s[11]]);
  blake2b_g(w.v2, w.v7, w.v8, w.v13, m[s[12]], m[s[13]]);
  blake2b_g(w.v3, w.v4, w.v9, w.v14, m[s[14]], m[s[15]]);
}

template <std::size_t... R>
[[gnu::always_inline]] inline void blake2b_rounds(Blake2bState& w, const std::uint64_t (&m)[16],
                                                  std::index_sequence<R...>) {
  (blake2b_round<R>(w, m), ...);
}

}  // namespace

void blake2b_one_block(std::uint8_t* out, std::size_t outlen, const std::uint8_t* msg,
                       std::size_t len) {
  // RFC 7693: the parameter block (digest length, no key, fanout and depth 1) folded into the
  // IV, one compression of the zero-padded message with the final-block flag.
  std::uint64_t m[16] = {};
  std::memcpy(m, msg, len);  // little-endian words (static_assert above)
  std::uint64_t h[8];
  std::memcpy(h, kBlake2bIv, sizeof h);
  h[0] ^= 0x01010000ULL ^ outlen;
  const std::uint64_t* iv = kBlake2bIv;
  Blake2bState w{h[0],  h[1],  h[2],  h[3],        h[4],  h[5],   h[6],  h[7],
                 iv[0], iv[1], iv[2], iv[3], iv[4] ^ len, iv[5], ~iv[6], iv[7]};  // t0, last block
  blake2b_rounds(w, m, std::make_index_sequence<12>{});
  h[0] ^= w.v0 ^ w.v8;
  h[1] ^= w.v1 ^ w.v9;
  h[2] ^= w.v2 ^ w.v10;
  h[3] ^= w.v3 ^ w.v11;
  h[4] ^= w.v4 ^ w.v12;
  h[5] ^= w.v5 ^ w.v13;
  h[6] ^= w.v6 ^ w.v14;
  h[7] ^= w.v7 ^ w.v15;
  std::memcpy(out, h, outlen);
  sodium_memzero(m, sizeof m);
  sodium_memzero(&w, sizeof w);
  sodium_memzero(h, sizeof h);
}

namespace {

// H'^T(A) (RFC 9106 section 3.3) with T = out.size(): one BLAKE2b when T <= 64, otherwise a
// chain of 64-byte digests contributing 32 bytes each, ending in one of T - 32r bytes. The
// digests of at most one BLAKE2b block (the chain, and the first blocks of each lane: 76 bytes)
// take blake2b_one_block: libsodium's general interface costs about twice the compression for
// them, and the `min` profile computes 64 of them per hash.
void h_prime(std::uint8_t* out, std::size_t len, std::initializer_list<ByteView> input) {
  const auto t = static_cast<std::uint32_t>(len);
  std::size_t in_len = 4;
  for (ByteView part : input) in_len += part.size();
  std::uint8_t v[64];
  const std::size_t first = len <= 64 ? len : 64;
  if (in_len <= kBlake2bBlock) {
    std::uint8_t one[kBlake2bBlock];
    argon2_store_le32(one, t);
    std::size_t at = 4;
    for (ByteView part : input) {
      if (!part.empty()) std::memcpy(one + at, part.data(), part.size());
      at += part.size();
    }
    blake2b_one_block(len <= 64 ? out : v, first, one, in_len);
    sodium_memzero(one, sizeof one);
  } else {
    Argon2Blake2b h(first);
    h.add_le32(t);
    for (ByteView part : input) h.add(part);
    h.finish(len <= 64 ? out : v);
  }
  if (len <= 64) return;
  std::memcpy(out, v, 32);
  std::size_t pos = 32;
  while (len - pos > 64) {
    blake2b_one_block(v, 64, v, sizeof v);
    std::memcpy(out + pos, v, 32);
    pos += 32;
  }
  blake2b_one_block(out + pos, len - pos, v, sizeof v);
  sodium_memzero(v, sizeof v);
}

std::uint8_t* argon2_block_bytes(Argon2Block& b) { return reinterpret_cast<std::uint8_t*>(b.v); }

// One Argon2id run over `mem` (lanes * lane_len blocks).
struct Argon2Filler {
  Argon2Block* mem;
  std::uint32_t lanes;
  std::uint32_t lane_len;  // q
  std::uint32_t seg_len;   // q / 4
  std::uint32_t passes;
  CompressFn compress;

  // RFC 9106 section 3.4: which block of the reference lane a block at `index` of its segment
  // refers to, given J1 (the low 32 bits of its pseudo-random value).
  std::uint32_t reference_index(std::uint32_t pass, std::uint32_t slice, std::uint32_t index,
                                bool same_lane, std::uint32_t j1) const {
    std::uint64_t area;   // |R|
    std::uint64_t start;  // where R begins in the lane
    if (pass == 0) {
      start = 0;
      if (same_lane)  // all finished blocks of this lane except the previous one
        area = std::uint64_t{slice} * seg_len + index - 1;
      else  // the finished segments of the other lane, minus their last block at a segment start
        area = std::uint64_t{slice} * seg_len - (index == 0 ? 1 : 0);
    } else {
      start = slice == kArgon2Slices - 1 ? 0 : std::uint64_t{slice + 1} * seg_len;
      if (same_lane)
        area = std::uint64_t{lane_len} - seg_len + index - 1;
      else
        area = std::uint64_t{lane_len} - seg_len - (index == 0 ? 1 : 0);
    }
    const std::uint64_t x = (std::uint64_t{j1} * j1) >> 32;
    const std::uint64_t y = (area * x) >> 32;
    return static_cast<std::uint32_t>((start + area - 1 - y) % lane_len);
  }

  void segment(std::uint32_t pass, std::uint32_t lane, std::uint32_t slice,
               std::uint64_t m_blocks) const {
    const bool independent = pass == 0 && slice < 2;  // Argon2id: first half of pass 0
    const std::uint32_t first = (pass == 0 && slice == 0) ? 2 : 0;
    static const Argon2Block zero{};
    Argon2Block input{};
    Argon2Block scratch;
    Argon2Block addresses;
    auto next_addresses = [&] {
      ++input.v[6];
      compress(zero, input, scratch, false);
      compress(zero, scratch, addresses, false);
    };
    if (independent) {
      input.v[0] = pass;
      input.v[1] = lane;
      input.v[2] = slice;
      input.v[3] = m_blocks;
      input.v[4] = passes;
      input.v[5] = kTypeArgon2id;
      if (first != 0) next_addresses();
    }
    const std::size_t lane_base = std::size_t{lane} * lane_len;
    std::size_t cur = lane_base + std::size_t{slice} * seg_len + first;
    std::size_t prev = (cur == lane_base) ? lane_base + lane_len - 1 : cur - 1;
    for (std::uint32_t i = first; i < seg_len; ++i, prev = cur, ++cur) {
      std::uint64_t rand;
      if (independent) {
        if (i % kAddressesPerBlock == 0) next_addresses();
        rand = addresses.v[i % kAddressesPerBlock];
      } else {
        rand = mem[prev].v[0];
      }
      const std::uint32_t ref_lane =
          (pass == 0 && slice == 0) ? lane : static_cast<std::uint32_t>((rand >> 32) % lanes);
      const std::uint32_t ref =
          reference_index(pass, slice, i, ref_lane == lane, static_cast<std::uint32_t>(rand));
      compress(mem[prev], mem[std::size_t{ref_lane} * lane_len + ref], mem[cur], pass != 0);
    }
  }
};

}  // namespace

std::size_t argon2_blocks(const Argon2Inputs& in) noexcept {
  const std::size_t quantum = std::size_t{kArgon2Slices} * in.lanes;
  return in.m_kib / quantum * quantum;
}

bool argon2id(const Argon2Inputs& in, std::span<std::uint8_t> out) {
  if (in.lanes == 0 || in.passes == 0 || in.m_kib < 8ull * in.lanes || out.size() < 4 ||
      out.size() > 0xffffffffu)
    fail(Category::usage, "Argon2id parameters out of range (" + std::to_string(in.passes) +
                              " passes, " + std::to_string(in.m_kib) + " KiB, " +
                              std::to_string(in.lanes) + " lanes, " + std::to_string(out.size()) +
                              "-byte output)");
  const std::size_t blocks = argon2_blocks(in);
  Argon2MemoryLease lease = lease_argon2_memory(blocks);
  if (lease.blocks == nullptr) return false;

  std::uint8_t h0[64 + 8];  // H0, then room for LE32(block index) || LE32(lane)
  {
    Argon2Blake2b h(64);
    for (std::uint32_t v : {in.lanes, static_cast<std::uint32_t>(out.size()), in.m_kib, in.passes,
                            kArgon2Version, kTypeArgon2id})
      h.add_le32(v);
    h.add_sized(in.password);
    h.add_sized(in.salt);
    h.add_sized(in.secret);
    h.add_sized(in.associated);
    h.finish(h0);
  }
  const auto lane_len = static_cast<std::uint32_t>(blocks / in.lanes);
  Argon2Block* mem = lease.blocks;
  for (std::uint32_t lane = 0; lane < in.lanes; ++lane) {
    for (std::uint32_t j = 0; j < 2; ++j) {
      argon2_store_le32(h0 + 64, j);
      argon2_store_le32(h0 + 68, lane);
      h_prime(argon2_block_bytes(mem[std::size_t{lane} * lane_len + j]), sizeof(Argon2Block),
              {ByteView(h0, sizeof h0)});
    }
  }
  sodium_memzero(h0, sizeof h0);

  const Argon2Filler fill{
      mem, in.lanes, lane_len, lane_len / kArgon2Slices, in.passes, active_compression()};
  for (std::uint32_t pass = 0; pass < in.passes; ++pass)
    for (std::uint32_t slice = 0; slice < kArgon2Slices; ++slice)
      for (std::uint32_t lane = 0; lane < in.lanes; ++lane) fill.segment(pass, lane, slice, blocks);

  Argon2Block last = mem[lane_len - 1];
  for (std::uint32_t lane = 1; lane < in.lanes; ++lane)
    for (unsigned k = 0; k < 128; ++k)
      last.v[k] ^= mem[std::size_t{lane} * lane_len + lane_len - 1].v[k];
  h_prime(out.data(), out.size(), {ByteView(argon2_block_bytes(last), sizeof last)});
  sodium_memzero(&last, sizeof last);
  return true;
}

}  // namespace hsm::kdf::detail
