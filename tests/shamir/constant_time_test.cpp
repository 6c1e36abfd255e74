// Constant-time check: marks the master secret, the passphrase and all randomness undefined for
// valgrind's memcheck, then splits, writes and reads mnemonics and combines. Any branch or
// memory index on a secret is then a memcheck error. Outside valgrind it is an ordinary round
// trip. Run: valgrind --error-exitcode=1 ./hsmctl_unit --gtest_filter='Slip39ConstantTime.*'
#include <gtest/gtest.h>

#include <vector>

#include "core/shamir/slip39.h"
#include "tests/shamir/fixtures.h"

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#else
#define SECRET(p, n) ((void)(p), (void)(n))
#define PUBLIC(p, n) ((void)(p), (void)(n))
#endif

namespace hsm::slip39 {
namespace {

using testing::hex;
using testing::random_secret;
using testing::seeded_random;
using testing::text;

// Random bytes that memcheck treats as secret.
RandomSource secret_random(std::uint32_t seed) {
  RandomSource inner = seeded_random(seed);
  return [inner](std::span<std::uint8_t> out) {
    inner(out);
    SECRET(out.data(), out.size());
  };
}

TEST(Slip39ConstantTime, SplitWriteReadCombineNeverBranchOnSecrets) {
  const Secret expected = random_secret(32, 1);
  Secret master = Secret::copy_of(expected.bytes());
  Secret passphrase = text("TREZOR");
  SECRET(master.data(), master.size());
  SECRET(passphrase.data(), passphrase.size());

  const std::vector<GroupSpec> groups = {{2, 3}, {1, 1}};
  const auto shares = split_master_secret(master, passphrase, 2, groups, true, 0, secret_random(2));
  std::vector<Share> chosen;
  for (const Share* s : {&shares[0][2], &shares[0][0], &shares[1][0]}) {
    const Secret mnemonic = to_mnemonic(*s);
    chosen.push_back(parse_mnemonic(mnemonic));
  }
  Secret recovered = combine_shares(chosen, passphrase);

  PUBLIC(recovered.data(), recovered.size());
  EXPECT_EQ(hex(recovered), hex(expected));
}

TEST(Slip39ConstantTime, ParsingAMnemonicNeverBranchesOnItsWords) {
  Secret mnemonic = text(
      "theory painting academic academic armed sweater year military elder discuss acne "
      "wildlife boring employer fused large satoshi bundle carbon diagnose anatomy hamster "
      "leaves tracks paces beyond phantom capital marvel lips brave detect luck");
  SECRET(mnemonic.data(), mnemonic.size());
  Share share = parse_mnemonic(mnemonic);
  Secret recovered = combine_shares(std::span<const Share>(&share, 1), text("TREZOR"));
  PUBLIC(recovered.data(), recovered.size());
  EXPECT_EQ(hex(recovered), "989baf9dcaad5b10ca33dfd8cc75e42477025dce88ae83e75a230086a0e00e92");
}

}  // namespace
}  // namespace hsm::slip39
