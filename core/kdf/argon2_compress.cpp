// Argon2's compression function G (RFC 9106 sections 3.5 and 3.6): the BlaMka permutation P
// over the 1 KiB block, row-wise then column-wise, in portable C++ and with AVX2 (chosen at
// run time, so the binary still runs on CPUs without it).
#include <atomic>
#include <cstdint>

#include "core/kdf/argon2_fill.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HSM_ARGON2_AVX2 1
#endif

namespace hsm::kdf::detail {
namespace {

constexpr std::uint64_t argon2_rotr64(std::uint64_t x, unsigned n) {
  return (x >> n) | (x << (64 - n));
}

// a + b + 2 * lo32(a) * lo32(b), modulo 2^64.
constexpr std::uint64_t blamka(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t product = (a & 0xffffffffu) * (b & 0xffffffffu);
  return a + b + 2 * product;
}

inline void argon2_gb(std::uint64_t& a, std::uint64_t& b, std::uint64_t& c, std::uint64_t& d) {
  a = blamka(a, b);
  d = argon2_rotr64(d ^ a, 32);
  c = blamka(c, d);
  b = argon2_rotr64(b ^ c, 24);
  a = blamka(a, b);
  d = argon2_rotr64(d ^ a, 16);
  c = blamka(c, d);
  b = argon2_rotr64(b ^ c, 63);
}

// P on 16 words v0..v15 (eight 16-byte registers S0..S7, S_i = v_{2i+1} || v_{2i}); v_k is
// the block's word idx[k].
inline void permute_portable(std::uint64_t* w, const unsigned (&idx)[16]) {
  std::uint64_t v[16];
  for (unsigned k = 0; k < 16; ++k) v[k] = w[idx[k]];
  argon2_gb(v[0], v[4], v[8], v[12]);
  argon2_gb(v[1], v[5], v[9], v[13]);
  argon2_gb(v[2], v[6], v[10], v[14]);
  argon2_gb(v[3], v[7], v[11], v[15]);
  argon2_gb(v[0], v[5], v[10], v[15]);
  argon2_gb(v[1], v[6], v[11], v[12]);
  argon2_gb(v[2], v[7], v[8], v[13]);
  argon2_gb(v[3], v[4], v[9], v[14]);
  for (unsigned k = 0; k < 16; ++k) w[idx[k]] = v[k];
}

std::atomic<bool> g_force_portable{false};

#ifdef HSM_ARGON2_AVX2

// The block as 32 registers of four words; register r holds words 4r..4r+3.
__attribute__((target("avx2"))) inline __m256i blamka4(__m256i a, __m256i b) {
  const __m256i product = _mm256_mul_epu32(a, b);  // lo32(a) * lo32(b) per 64-bit word
  return _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(product, product));
}

__attribute__((target("avx2"))) inline __m256i rotr32(__m256i x) {
  return _mm256_shuffle_epi32(x, 0xb1);  // swap the 32-bit halves of each word
}

__attribute__((target("avx2"))) inline __m256i rotr24(__m256i x) {
  const __m256i m = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5,
                                     6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
  return _mm256_shuffle_epi8(x, m);
}

__attribute__((target("avx2"))) inline __m256i rotr16(__m256i x) {
  const __m256i m = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4,
                                     5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
  return _mm256_shuffle_epi8(x, m);
}

__attribute__((target("avx2"))) inline __m256i rotr63(__m256i x) {
  return _mm256_xor_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x));
}

// Four GB at once: word k of a, b, c, d form one GB's (a, b, c, d).
__attribute__((target("avx2"))) inline void argon2_gb4(__m256i& a, __m256i& b, __m256i& c,
                                                       __m256i& d) {
  a = blamka4(a, b);
  d = rotr32(_mm256_xor_si256(d, a));
  c = blamka4(c, d);
  b = rotr24(_mm256_xor_si256(b, c));
  a = blamka4(a, b);
  d = rotr16(_mm256_xor_si256(d, a));
  c = blamka4(c, d);
  b = rotr63(_mm256_xor_si256(b, c));
}

// P with a = v0..v3, b = v4..v7, c = v8..v11, d = v12..v15: the column step, then the diagonal
// step with b, c, d rotated by one, two and three words.
__attribute__((target("avx2"))) inline void argon2_permute4(__m256i& a, __m256i& b, __m256i& c,
                                                            __m256i& d) {
  argon2_gb4(a, b, c, d);
  b = _mm256_permute4x64_epi64(b, 0x39);
  c = _mm256_permute4x64_epi64(c, 0x4e);
  d = _mm256_permute4x64_epi64(d, 0x93);
  argon2_gb4(a, b, c, d);
  b = _mm256_permute4x64_epi64(b, 0x93);
  c = _mm256_permute4x64_epi64(c, 0x4e);
  d = _mm256_permute4x64_epi64(d, 0x39);
}

__attribute__((target("avx2"))) void compress_avx2(const Argon2Block& prev, const Argon2Block& ref,
                                                   Argon2Block& out, bool xor_into_out) {
  const auto* p = reinterpret_cast<const __m256i*>(prev.v);
  const auto* r = reinterpret_cast<const __m256i*>(ref.v);
  auto* o = reinterpret_cast<__m256i*>(out.v);
  __m256i s[32];
  __m256i keep[32];
  for (unsigned k = 0; k < 32; ++k) {
    s[k] = _mm256_xor_si256(_mm256_load_si256(p + k), _mm256_load_si256(r + k));
    keep[k] = xor_into_out ? _mm256_xor_si256(s[k], _mm256_load_si256(o + k)) : s[k];
  }
  // Rows: row i is words 16i..16i+15, registers 4i..4i+3.
  for (unsigned i = 0; i < 8; ++i)
    argon2_permute4(s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]);
  // Columns: column c is the word pairs (2c, 2c+1) + 16j for j = 0..7. Columns 2k and 2k+1
  // share registers k + 4j (low and high halves); regroup the halves, permute, put back.
  for (unsigned k = 0; k < 4; ++k) {
    __m256i lo[4];
    __m256i hi[4];
    for (unsigned q = 0; q < 4; ++q) {
      lo[q] = _mm256_permute2x128_si256(s[k + 8 * q], s[k + 8 * q + 4], 0x20);
      hi[q] = _mm256_permute2x128_si256(s[k + 8 * q], s[k + 8 * q + 4], 0x31);
    }
    argon2_permute4(lo[0], lo[1], lo[2], lo[3]);
    argon2_permute4(hi[0], hi[1], hi[2], hi[3]);
    for (unsigned q = 0; q < 4; ++q) {
      s[k + 8 * q] = _mm256_permute2x128_si256(lo[q], hi[q], 0x20);
      s[k + 8 * q + 4] = _mm256_permute2x128_si256(lo[q], hi[q], 0x31);
    }
  }
  for (unsigned k = 0; k < 32; ++k) _mm256_store_si256(o + k, _mm256_xor_si256(s[k], keep[k]));
}

#endif  // HSM_ARGON2_AVX2

}  // namespace

void compress_portable(const Argon2Block& prev, const Argon2Block& ref, Argon2Block& out,
                       bool xor_into_out) {
  Argon2Block s;
  Argon2Block keep;
  for (unsigned k = 0; k < 128; ++k) {
    s.v[k] = prev.v[k] ^ ref.v[k];
    keep.v[k] = xor_into_out ? s.v[k] ^ out.v[k] : s.v[k];
  }
  for (unsigned row = 0; row < 8; ++row) {
    unsigned idx[16];
    for (unsigned k = 0; k < 16; ++k) idx[k] = 16 * row + k;
    permute_portable(s.v, idx);
  }
  for (unsigned col = 0; col < 8; ++col) {
    unsigned idx[16];
    for (unsigned j = 0; j < 8; ++j) {
      idx[2 * j] = 2 * col + 16 * j;
      idx[2 * j + 1] = 2 * col + 16 * j + 1;
    }
    permute_portable(s.v, idx);
  }
  for (unsigned k = 0; k < 128; ++k) out.v[k] = s.v[k] ^ keep.v[k];
}

CompressFn compress_avx2_if_supported() noexcept {
#ifdef HSM_ARGON2_AVX2
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) return compress_avx2;
#endif
  return nullptr;
}

void force_portable_compression(bool on) noexcept { g_force_portable.store(on); }

CompressFn active_compression() noexcept {
  if (!g_force_portable.load()) {
    if (CompressFn fast = compress_avx2_if_supported()) return fast;
  }
  return compress_portable;
}

}  // namespace hsm::kdf::detail
