// The locked arena behind small Secrets: slots come back zeroed after someone else's secret was
// in them, are reused rather than leaked, sizes across the class boundaries work, and large
// Secrets take their own region. (Overruns into a neighbouring slot are the sanitizer build's
// job: a slot's unused bytes are poisoned there.)
#include "core/secure/arena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/secure/secret.h"

namespace hsm {
namespace {

bool all_zero(const Secret& s) {
  return std::all_of(s.bytes().begin(), s.bytes().end(), [](std::uint8_t b) { return b == 0; });
}

TEST(SecretArena, AReusedSlotComesBackZeroed) {
  for (std::size_t size : {1u, 31u, 32u, 33u, 64u, 100u, 128u, 200u, 256u}) {
    SCOPED_TRACE(size);
    const std::uint8_t* first = nullptr;
    {
      Secret s(size);
      std::memset(s.data(), 0xA5, s.size());
      first = s.data();
    }
    const Secret again(size);  // the slot just released is the next one handed out
    EXPECT_EQ(again.data(), first);
    EXPECT_TRUE(all_zero(again));
  }
}

TEST(SecretArena, SlotsAreReturnedAndReusedNotLeaked) {
  const std::size_t in_use = secure_memory::arena_slots_in_use();
  {
    std::vector<Secret> many;
    for (int i = 0; i < 5000; ++i) many.emplace_back(static_cast<std::size_t>(1 + i % 256));
    EXPECT_EQ(secure_memory::arena_slots_in_use(), in_use + 5000);
  }
  EXPECT_EQ(secure_memory::arena_slots_in_use(), in_use);
  const std::size_t slabs = secure_memory::arena_slabs();
  for (int round = 0; round < 20; ++round) {
    std::vector<Secret> many;
    for (int i = 0; i < 5000; ++i) many.emplace_back(static_cast<std::size_t>(1 + i % 256));
  }
  EXPECT_EQ(secure_memory::arena_slabs(), slabs);  // the same slabs served every round
}

TEST(SecretArena, LargeSecretsTakeTheirOwnRegion) {
  const std::size_t in_use = secure_memory::arena_slots_in_use();
  Secret big(secure_memory::kArenaMaxSize + 1);
  EXPECT_EQ(secure_memory::arena_slots_in_use(), in_use);
  EXPECT_TRUE(all_zero(big));
  std::memset(big.data(), 0x5A, big.size());
  Secret moved = std::move(big);
  EXPECT_EQ(moved.size(), secure_memory::kArenaMaxSize + 1);
  EXPECT_EQ(moved.data()[secure_memory::kArenaMaxSize], 0x5A);
}

TEST(SecretArena, SecretsKeepTheirBytesApart) {
  std::vector<Secret> v;
  for (int i = 0; i < 300; ++i) {
    v.emplace_back(32);
    std::memset(v.back().data(), i & 0xFF, 32);
  }
  for (int i = 0; i < 300; ++i)
    EXPECT_TRUE(std::all_of(v[i].bytes().begin(), v[i].bytes().end(),
                            [&](std::uint8_t b) { return b == (i & 0xFF); }));
  Secret a = Secret::copy_of(std::string_view("password-a"));
  Secret b = std::move(a);
  a = Secret::copy_of(std::string_view("password-b"));
  EXPECT_EQ(b.chars(), "password-a");
  EXPECT_EQ(a.chars(), "password-b");
}

}  // namespace
}  // namespace hsm
