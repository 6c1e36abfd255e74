// Our own Argon2id (RFC 9106, version 0x13) for the memory costs batch provisioning uses: the
// block compression (portable, and AVX2 where the CPU has it) and the fill run in one buffer
// that stays mapped across calls. Internal to core/kdf; callers use derive_password_key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>

#include "core/bytes.h"

namespace hsm::kdf::detail {

// One Argon2 block: 1 KiB as 128 little-endian 64-bit words.
struct alignas(64) Argon2Block {
  std::uint64_t v[128];
};

// Argon2id inputs. secret (K) and associated data (X) exist for the RFC 9106 test vector;
// derive_password_key passes none. lanes are computed one after another on this thread.
struct Argon2Inputs {
  std::uint32_t passes;  // t
  std::uint32_t m_kib;   // m, in KiB (1 KiB blocks); at least 8 * lanes
  std::uint32_t lanes;   // p, at least 1
  ByteView password;
  ByteView salt;
  ByteView secret;
  ByteView associated;
};

// The number of blocks Argon2 actually uses for these inputs: m rounded down to a multiple of
// 4 * lanes (RFC 9106 m').
std::size_t argon2_blocks(const Argon2Inputs& in) noexcept;

// Argon2id of `in` into `out` (any length from 4 bytes), using the process's kept buffer (see
// argon2_memory.cpp). Returns false only when the buffer cannot be mapped. Thread-safe: calls
// from several threads take turns on the one buffer.
bool argon2id(const Argon2Inputs& in, std::span<std::uint8_t> out);

// The kept buffer, held for one hash: `blocks` points at >= the blocks asked for, and stays
// valid while `lock` is held. blocks is nullptr (and lock empty) when mapping failed.
struct Argon2MemoryLease {
  std::unique_lock<std::mutex> lock;
  Argon2Block* blocks = nullptr;
};
Argon2MemoryLease lease_argon2_memory(std::size_t blocks);

// Wipes and unmaps the kept buffer (the next call maps a new one). Tests, and process exit.
void release_argon2_memory() noexcept;
// Bytes currently mapped for the kept buffer (0 when none). Tests.
std::size_t argon2_memory_mapped() noexcept;

// BLAKE2b (RFC 7693, unkeyed) of a message of at most one block (128 bytes) into outlen
// (1..64) bytes; `out` may be `msg`. Exposed for its test against libsodium.
void blake2b_one_block(std::uint8_t* out, std::size_t outlen, const std::uint8_t* msg,
                       std::size_t len);

// The compression G: out = P(prev ^ ref) ^ prev ^ ref, and when xor_into_out also ^ out's old
// value (passes after the first, version 0x13).
using CompressFn = void (*)(const Argon2Block& prev, const Argon2Block& ref, Argon2Block& out,
                            bool xor_into_out);
void compress_portable(const Argon2Block& prev, const Argon2Block& ref, Argon2Block& out,
                       bool xor_into_out);
// nullptr when the CPU lacks AVX2 (or the compiler cannot target it).
CompressFn compress_avx2_if_supported() noexcept;

// Tests only: make argon2id use compress_portable even on an AVX2 CPU (process-wide).
void force_portable_compression(bool on) noexcept;
// The compression argon2id uses now.
CompressFn active_compression() noexcept;

}  // namespace hsm::kdf::detail
