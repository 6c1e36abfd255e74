// Size-classed slots in sodium_malloc'd slabs for small Secrets (see arena.h).
#include "core/secure/arena.h"

#include <sanitizer/asan_interface.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace hsm::secure_memory {

namespace {

constexpr std::size_t kSlabSize = 64 * 1024;
constexpr std::array<std::size_t, 4> kSlotSizes{32, 64, 128, kArenaMaxSize};

struct Arena {
  std::mutex mutex;
  std::array<std::vector<std::uint8_t*>, kSlotSizes.size()> free_slots;
  std::vector<std::uint8_t*> slabs;  // kept for the life of the process
  std::size_t in_use = 0;
};

Arena& arena() {
  static Arena* a = new Arena;  // never destroyed: Secrets in static storage outlive any order
  return *a;
}

std::size_t class_of(std::size_t n) {
  for (std::size_t c = 0; c < kSlotSizes.size(); ++c)
    if (n <= kSlotSizes[c]) return c;
  return kSlotSizes.size();
}

std::uint8_t* checked_sodium_malloc(std::size_t n) {
  auto* p = static_cast<std::uint8_t*>(sodium_malloc(n));
  if (p == nullptr) fail(Category::general, "cannot allocate locked memory for a secret");
  std::memset(p, 0, n);  // sodium_malloc fills with a marker byte
  return p;
}

void add_slab(Arena& a, std::size_t c) {
  std::uint8_t* slab = checked_sodium_malloc(kSlabSize);
  a.slabs.push_back(slab);
  const std::size_t slot = kSlotSizes[c];
  auto& list = a.free_slots[c];
  // Pushed in reverse so that slots are handed out from the start of the slab.
  for (std::size_t off = kSlabSize; off >= slot; off -= slot) list.push_back(slab + off - slot);
  ASAN_POISON_MEMORY_REGION(slab, kSlabSize);
}

}  // namespace

std::uint8_t* allocate(std::size_t n) {
  if (sodium_init() < 0) fail(Category::general, "libsodium failed to initialise");
  const std::size_t c = class_of(n);
  if (c == kSlotSizes.size()) return checked_sodium_malloc(n);
  Arena& a = arena();
  std::lock_guard lock(a.mutex);
  if (a.free_slots[c].empty()) add_slab(a, c);
  std::uint8_t* p = a.free_slots[c].back();
  a.free_slots[c].pop_back();
  ++a.in_use;
  ASAN_UNPOISON_MEMORY_REGION(p, n);
  return p;  // zero: slabs start zeroed and every slot is zeroized when released
}

void release(std::uint8_t* p, std::size_t n) noexcept {
  if (p == nullptr) return;
  const std::size_t c = class_of(n);
  if (c == kSlotSizes.size()) {
    sodium_free(p);  // zeroizes before unmapping
    return;
  }
  sodium_memzero(p, n);
  ASAN_POISON_MEMORY_REGION(p, kSlotSizes[c]);
  Arena& a = arena();
  std::lock_guard lock(a.mutex);
  a.free_slots[c].push_back(p);  // reserved at slab creation: cannot throw
  --a.in_use;
}

std::size_t arena_slots_in_use() noexcept {
  Arena& a = arena();
  std::lock_guard lock(a.mutex);
  return a.in_use;
}

std::size_t arena_slabs() noexcept {
  Arena& a = arena();
  std::lock_guard lock(a.mutex);
  return a.slabs.size();
}

}  // namespace hsm::secure_memory
