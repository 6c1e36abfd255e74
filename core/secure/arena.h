// The locked arena behind small Secrets. A Secret of up to kArenaMaxSize bytes takes a slot of
// a size class (32, 64, 128, 256 bytes) in a 64 KiB slab; larger ones get their own
// sodium_malloc region. Each slab is itself one sodium_malloc region: guard pages around it,
// mlock'd, left out of core dumps. A freed slot is zeroized before it is reused.
//
// Why: sodium_malloc costs an mmap, three mprotect, an mlock and, when freed, an munmap whose
// TLB shoot-down dominated batch provisioning (two Secrets a user). It also locks a page per
// Secret, so a few thousand passwords in one batch ran past RLIMIT_MEMLOCK, where libsodium
// silently stops locking. The trade-off: neighbouring slots in a slab are not separated by
// guard pages. Under AddressSanitizer every byte of a slot outside the live Secret is poisoned,
// so an overrun into a neighbour is reported by the sanitizer build of the test suite.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hsm::secure_memory {

inline constexpr std::size_t kArenaMaxSize = 256;

// Zero-filled memory for n bytes (0 < n); never null (throws on exhaustion).
std::uint8_t* allocate(std::size_t n);
// Zeroizes and releases what allocate(n) returned; n must be the same size.
void release(std::uint8_t* p, std::size_t n) noexcept;

// Counters for tests: slots in use in the arena, and slabs made so far.
std::size_t arena_slots_in_use() noexcept;
std::size_t arena_slabs() noexcept;

}  // namespace hsm::secure_memory
