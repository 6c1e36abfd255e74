// Our own Argon2id (core/kdf/argon2_fill.h): the RFC 9106 test vector, byte-for-byte agreement
// with libsodium's crypto_pwhash across costs, output and password lengths, the portable and
// AVX2 compressions agreeing, and the kept buffer staying correct across sizes and threads.
#include "core/kdf/argon2_fill.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/kdf/argon2id.h"

namespace hsm::kdf {
namespace {

Bytes libsodium_argon2id(const std::string& pw, const Bytes& salt, std::uint64_t ops,
                         std::size_t mem, std::size_t out_len) {
  Bytes out(out_len);
  EXPECT_EQ(crypto_pwhash(out.data(), out.size(), pw.data(), pw.size(), salt.data(), ops, mem,
                          crypto_pwhash_ALG_ARGON2ID13),
            0);
  return out;
}

Bytes ours_argon2id(const std::string& pw, const Bytes& salt, std::uint64_t ops, std::size_t mem,
                    std::size_t out_len) {
  const Secret key =
      derive_password_key(Secret::copy_of(std::string_view(pw)), salt, {ops, mem}, out_len);
  return Bytes(key.bytes().begin(), key.bytes().end());
}

Bytes salt_of(std::uint8_t seed) {
  Bytes s(kSaltSize);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(seed * 31 + i * seed);
  return s;
}

struct PortableOnly {  // forces the portable compression for one scope
  PortableOnly() { detail::force_portable_compression(true); }
  ~PortableOnly() { detail::force_portable_compression(false); }
  PortableOnly(const PortableOnly&) = delete;
  PortableOnly& operator=(const PortableOnly&) = delete;
};

TEST(Argon2Fill, Rfc9106Argon2idTestVector) {
  // RFC 9106 section 5.3: 4 lanes, 32 KiB, 3 passes, 32-byte tag, with secret and data.
  const Bytes password(32, 0x01), salt(16, 0x02), secret(8, 0x03), data(12, 0x04);
  const detail::Argon2Inputs in{3, 32, 4, password, salt, secret, data};
  for (bool portable : {false, true}) {
    SCOPED_TRACE(portable ? "portable" : "default");
    std::optional<PortableOnly> scope;
    if (portable) scope.emplace();
    Bytes tag(32);
    ASSERT_TRUE(detail::argon2id(in, tag));
    EXPECT_EQ(to_hex(tag), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
  }
}

TEST(Argon2Fill, AgreesWithLibsodiumAcrossCosts) {
  struct Case {
    std::uint64_t ops;
    std::size_t mem;
  };
  const std::vector<Case> cases{
      {1, 8192},
      {2, 8192},
      {3, 8192},
      {4, 8192},
      {1, 9000},
      {3, 9000},
      {1, 65536},
      {2, 65536},
      {3, 65536},
      {4, 65536},
      {1, 1 << 20},
      {2, 1 << 20},
      {1, (1 << 20) + 1024},
      {3, (1 << 20) + 1024},
      {1, 8 << 20},
      {1, 12345 * 3},
      {2, 100 * 1024 + 512},
  };
  for (const Case& c : cases) {
    for (std::uint8_t seed : {0, 1, 200}) {
      SCOPED_TRACE(std::to_string(c.ops) + " passes, " + std::to_string(c.mem) + " bytes, salt " +
                   std::to_string(seed));
      const Bytes salt = salt_of(seed);
      EXPECT_EQ(ours_argon2id("password", salt, c.ops, c.mem, 32),
                libsodium_argon2id("password", salt, c.ops, c.mem, 32));
    }
  }
}

TEST(Argon2Fill, AgreesWithLibsodiumAcrossOutputAndPasswordLengths) {
  const std::vector<std::string> passwords{"x", std::string(64, 'p'), std::string(300, '\xa5')};
  for (std::size_t mem : {std::size_t{8192}, std::size_t{65536}}) {
    for (std::size_t out : {16, 32, 64, 65, 100, 1000}) {
      for (const std::string& pw : passwords) {
        SCOPED_TRACE(std::to_string(mem) + " bytes, " + std::to_string(out) + "-byte output, " +
                     std::to_string(pw.size()) + "-byte password");
        const Bytes salt = salt_of(static_cast<std::uint8_t>(out));
        EXPECT_EQ(ours_argon2id(pw, salt, 2, mem, out), libsodium_argon2id(pw, salt, 2, mem, out));
      }
    }
  }
}

TEST(Argon2Fill, InteractiveProfileAndTheFirstLibsodiumCostAgree) {
  const KdfParams interactive = kdf_params(KdfProfile::interactive);
  ASSERT_EQ(interactive.memlimit, std::size_t{64} << 20);
  ASSERT_EQ(interactive.opslimit, 2u);
  const Bytes salt = salt_of(9);
  EXPECT_EQ(ours_argon2id("correct horse", salt, 2, interactive.memlimit, 32),
            libsodium_argon2id("correct horse", salt, 2, interactive.memlimit, 32));
  // Just above 64 MiB derive_password_key hands over to libsodium (one pass keeps it quick).
  const std::size_t above = (std::size_t{64} << 20) + 1024;
  EXPECT_EQ(ours_argon2id("correct horse", salt, 1, above, 32),
            libsodium_argon2id("correct horse", salt, 1, above, 32));
}

TEST(Argon2Fill, OneBlockBlake2bAgreesWithLibsodium) {
  std::vector<std::uint8_t> msg(128);
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::uint8_t>(i * 37 + 11);
  for (std::size_t len = 0; len <= 128; ++len)
    for (std::size_t outlen : {1u, 16u, 31u, 32u, 33u, 63u, 64u}) {
      SCOPED_TRACE(std::to_string(len) + " bytes into " + std::to_string(outlen));
      std::vector<std::uint8_t> ours(outlen), theirs(outlen);
      detail::blake2b_one_block(ours.data(), outlen, msg.data(), len);
      ASSERT_EQ(crypto_generichash_blake2b(theirs.data(), outlen, msg.data(), len, nullptr, 0), 0);
      EXPECT_EQ(ours, theirs);
    }
  // In place, as H' chains it.
  std::vector<std::uint8_t> v(msg.begin(), msg.begin() + 64), expect(64);
  ASSERT_EQ(crypto_generichash_blake2b(expect.data(), 64, v.data(), 64, nullptr, 0), 0);
  detail::blake2b_one_block(v.data(), 64, v.data(), 64);
  EXPECT_EQ(v, expect);
}

TEST(Argon2Fill, PortableAndAvx2CompressionAgree) {
  const detail::CompressFn avx2 = detail::compress_avx2_if_supported();
  if (avx2 == nullptr) GTEST_SKIP() << "this CPU has no AVX2";
  detail::Argon2Block prev, ref, out_a, out_b;
  for (int round = 0; round < 20; ++round) {
    randombytes_buf(prev.v, sizeof prev.v);
    randombytes_buf(ref.v, sizeof ref.v);
    randombytes_buf(out_a.v, sizeof out_a.v);
    out_b = out_a;
    const bool with_xor = round % 2 == 1;
    detail::compress_portable(prev, ref, out_a, with_xor);
    avx2(prev, ref, out_b, with_xor);
    ASSERT_EQ(0, std::memcmp(out_a.v, out_b.v, sizeof out_a.v)) << "round " << round;
  }
  // And whole hashes, one of them with data-dependent passes over 1 MiB.
  const Bytes salt = salt_of(5);
  const Bytes fast = ours_argon2id("pw", salt, 3, 1 << 20, 32);
  Bytes portable;
  {
    PortableOnly scope;
    EXPECT_EQ(detail::active_compression(), &detail::compress_portable);
    portable = ours_argon2id("pw", salt, 3, 1 << 20, 32);
  }
  EXPECT_NE(detail::active_compression(), &detail::compress_portable);
  EXPECT_EQ(fast, portable);
}

TEST(Argon2Fill, AForkedChildSeesTheKeptBufferZeroed) {
  ours_argon2id("pw", salt_of(6), 1, 1 << 20, 32);
  auto nonzero = [] {
    auto lease = detail::lease_argon2_memory(1024);
    if (lease.blocks == nullptr) return false;
    for (std::size_t b = 0; b < 1024; ++b)
      for (std::uint64_t w : lease.blocks[b].v)
        if (w != 0) return true;
    return false;
  };
  ASSERT_TRUE(nonzero()) << "the parent's buffer should hold the last hash's blocks";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(nonzero() ? 1 : 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child saw the parent's Argon2 blocks";
  EXPECT_TRUE(nonzero());
}

TEST(Argon2Fill, KeptBufferGivesFreshAnswersWhenGrowingAndShrinking) {
  const std::vector<std::size_t> sizes{65536, 8 << 20, 8192, 1 << 20, (1 << 20) + 1024,
                                       9000,  8 << 20, 65536};
  std::vector<Bytes> fresh;
  for (std::size_t mem : sizes) {
    detail::release_argon2_memory();
    ASSERT_EQ(detail::argon2_memory_mapped(), 0u);
    fresh.push_back(ours_argon2id("reuse", salt_of(3), 2, mem, 32));
    EXPECT_GE(detail::argon2_memory_mapped(), mem / 4096 * 4096);  // m rounded down to 4 KiB
  }
  detail::release_argon2_memory();
  std::size_t mapped = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(std::to_string(sizes[i]) + " bytes after " + std::to_string(mapped) + " mapped");
    EXPECT_EQ(ours_argon2id("reuse", salt_of(3), 2, sizes[i], 32), fresh[i]);
    EXPECT_GE(detail::argon2_memory_mapped(), mapped);  // grows, never shrinks
    mapped = detail::argon2_memory_mapped();
  }
  EXPECT_EQ(fresh[0], libsodium_argon2id("reuse", salt_of(3), 2, sizes[0], 32));
}

TEST(Argon2Fill, TwoThreadsDeriveCorrectKeysAtOnce) {
  struct Job {
    std::string pw;
    std::size_t mem;
    Bytes expected;
  };
  std::vector<Job> jobs{{"thread one", 1 << 20, {}}, {"thread two", 65536, {}}};
  for (Job& j : jobs) j.expected = libsodium_argon2id(j.pw, salt_of(4), 2, j.mem, 32);
  std::vector<int> wrong(jobs.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < jobs.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        if (ours_argon2id(jobs[t].pw, salt_of(4), 2, jobs[t].mem, 32) != jobs[t].expected)
          ++wrong[t];
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(jobs.size(), 0));
}

TEST(Argon2Fill, BlocksAreMRoundedDownToFourPerLane) {
  EXPECT_EQ(detail::argon2_blocks({1, 8, 1, {}, {}, {}, {}}), 8u);
  EXPECT_EQ(detail::argon2_blocks({1, 1025, 1, {}, {}, {}, {}}), 1024u);
  EXPECT_EQ(detail::argon2_blocks({1, 35, 4, {}, {}, {}, {}}), 32u);
}

}  // namespace
}  // namespace hsm::kdf
