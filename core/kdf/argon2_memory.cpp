// The one Argon2 working buffer a process keeps across hashes: mapped once (never dumped,
// locked where the limit allows, huge pages when large, zero in a forked child), grown on
// demand, wiped when released.
#include <sodium.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "core/kdf/argon2_fill.h"

namespace hsm::kdf::detail {
namespace {

// Wiping policy. crypto_pwhash maps fresh zero-filled memory for every hash, wipes all of it
// and unmaps it: for the 64 MiB `interactive` cost that is three extra passes over memory
// (kernel zero-fill, wipe, and the page-table teardown) on top of Argon2's own two, and it is
// the bottleneck when several workers provision users at once. Here the buffer outlives a
// hash and is NOT wiped after each one: the next hash overwrites every block it uses in its
// first pass before reading it, so no state leaks from one hash into the next. What the
// buffer holds between hashes is derived from the last password; it is wiped (the part ever
// used) when the buffer is grown or released and at process exit, it is never written to a
// core dump, and it is locked against swap when RLIMIT_MEMLOCK allows. An attacker who can
// read this process's memory while it runs can read the passwords themselves, so keeping
// the blocks between hashes gives no one anything they could not already take.
constexpr std::size_t kArgon2HugePage = std::size_t{2} << 20;
constexpr std::size_t kArgon2Page = 4096;

struct KeptArgonMemory {
  std::mutex mutex;
  std::uint8_t* base = nullptr;  // kArgon2HugePage-aligned when mapped >= kArgon2HugePage
  std::size_t mapped = 0;        // bytes mapped at base
  std::size_t used = 0;          // bytes ever handed out since mapping: what a wipe covers
  bool locked = false;
  bool exit_hook = false;
};

KeptArgonMemory& kept_memory() {
  static auto* m = new KeptArgonMemory;  // never destroyed: usable from atexit and late threads
  return *m;
}

void unmap_kept(KeptArgonMemory& m) noexcept {
  if (m.base == nullptr) return;
  sodium_memzero(m.base, m.used);
  if (m.locked) munlock(m.base, m.mapped);
  munmap(m.base, m.mapped);
  m.base = nullptr;
  m.mapped = m.used = 0;
  m.locked = false;
}

void release_at_exit() { release_argon2_memory(); }

std::size_t argon2_round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// Maps at least `bytes`; large sizes aligned to a huge page so THP can back them.
bool map_kept(KeptArgonMemory& m, std::size_t bytes) {
  const bool huge = bytes >= kArgon2HugePage;
  const std::size_t size = argon2_round_up(bytes, huge ? kArgon2HugePage : kArgon2Page);
  const std::size_t slack = huge ? kArgon2HugePage : 0;
  void* raw =
      mmap(nullptr, size + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return false;
  auto* start = static_cast<std::uint8_t*>(raw);
  auto* base = start;
  if (huge) {
    const auto addr = reinterpret_cast<std::uintptr_t>(start);
    base = start + (argon2_round_up(addr, kArgon2HugePage) - addr);
    if (base != start) munmap(start, static_cast<std::size_t>(base - start));
    const std::size_t tail = slack - static_cast<std::size_t>(base - start);
    if (tail != 0) munmap(base + size, tail);
    madvise(base, size, MADV_HUGEPAGE);  // a hint: fine if THP is off
  }
  madvise(base, size, MADV_DONTDUMP);
  // A forked child (provision's workers) gets these pages zero-filled, not the parent's blocks.
  madvise(base, size, MADV_WIPEONFORK);
  m.locked = mlock(base, size) == 0;  // usually fails for non-root (small RLIMIT_MEMLOCK)
  m.base = base;
  m.mapped = size;
  m.used = 0;
  if (!m.exit_hook) m.exit_hook = std::atexit(release_at_exit) == 0;
  return true;
}

}  // namespace

Argon2MemoryLease lease_argon2_memory(std::size_t blocks) {
  KeptArgonMemory& m = kept_memory();
  Argon2MemoryLease lease{std::unique_lock(m.mutex), nullptr};
  const std::size_t bytes = blocks * sizeof(Argon2Block);
  if (bytes > m.mapped) {
    unmap_kept(m);
    if (!map_kept(m, bytes)) return {};  // the local lease unlocks
  }
  m.used = std::max(m.used, bytes);
  lease.blocks = reinterpret_cast<Argon2Block*>(m.base);
  return lease;
}

void release_argon2_memory() noexcept {
  KeptArgonMemory& m = kept_memory();
  std::lock_guard lock(m.mutex);
  unmap_kept(m);
}

std::size_t argon2_memory_mapped() noexcept {
  KeptArgonMemory& m = kept_memory();
  std::lock_guard lock(m.mutex);
  return m.mapped;
}

}  // namespace hsm::kdf::detail
