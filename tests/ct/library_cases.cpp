// The library code under the constant-time check: GF(2^8) arithmetic, Shamir split, recover and
// interpolation, the RS1024 checksum, the Feistel passphrase encryption, and a whole SLIP-0039
// split -> mnemonic -> parse -> combine, each with every secret byte marked undefined.
#include <array>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/shamir/gf256.h"
#include "core/shamir/rs1024.h"
#include "core/shamir/slip39.h"
#include "tests/ct/ct_check.h"
#include "tests/ct/reference.h"

namespace hsm::ct_check {
namespace {

using namespace hsm::slip39;

// Random bytes that memcheck treats as secret, as the library's randomness is.
RandomSource secret_random(std::uint32_t seed) {
  return [state = seed](std::span<std::uint8_t> out) mutable {
    fill(out, state);
    mark_secret(out);
  };
}

Secret secret_bytes(std::size_t n, std::uint32_t seed) {
  Secret s(n);
  fill(s.bytes(), seed);
  return s;
}

void gf256_case() {
  std::array<std::uint8_t, 256> a{}, b{};
  for (int i = 0; i < 256; ++i) a[i] = b[i] = static_cast<std::uint8_t>(i);
  mark_secret(std::span(a));
  mark_secret(std::span(b));
  std::vector<std::uint8_t> products(256 * 256), sums(256 * 256);
  std::array<std::uint8_t, 256> inverses{};
  for (int i = 0; i < 256; ++i) {
    inverses[i] = gf256::inv(a[i]);
    for (int j = 0; j < 256; ++j) {
      products[i * 256 + j] = gf256::mul(a[i], b[j]);
      sums[i * 256 + j] = gf256::add(a[i], b[j]);
    }
  }
  declassify(products.data(), products.size());
  declassify(sums.data(), sums.size());
  declassify(inverses.data(), inverses.size());
  for (int i = 0; i < 256; ++i) {
    check(reference_mul(static_cast<std::uint8_t>(i), inverses[i]) == (i == 0 ? 0 : 1),
          "gf256::inv(a) * a == 1 (and inv(0) == 0)");
    for (int j = 0; j < 256; ++j) {
      check(products[i * 256 + j] == reference_mul(static_cast<std::uint8_t>(i),
                                                   static_cast<std::uint8_t>(j)),
            "gf256::mul agrees with the reference multiply");
      check(sums[i * 256 + j] == (i ^ j), "gf256::add is xor");
    }
  }
}

void shamir_case() {
  const Secret expected = secret_bytes(32, 7);
  Secret secret = Secret::copy_of(expected.bytes());
  mark_secret(secret.bytes());
  const std::vector<Secret> shares = split_secret(3, 5, secret, secret_random(11));
  const std::vector<SharePoint> points = {
      {4, shares[4].bytes()}, {1, shares[1].bytes()}, {2, shares[2].bytes()}};
  Secret recovered = recover_secret(3, points, "the shares");
  Secret share0 = interpolate(points, 0);
  declassify(recovered.data(), recovered.size());
  check(recovered.equals(expected), "recover_secret returns the split secret");
  Secret share0_public = Secret::copy_of(shares[0].bytes());
  declassify(share0.data(), share0.size());
  declassify(share0_public.data(), share0_public.size());
  check(share0.equals(share0_public), "interpolate at x = 0 gives share 0");

  // A wrong share: the digest verdict is the only secret-derived value that may be branched on.
  Secret wrong = Secret::copy_of(shares[1].bytes());
  wrong.data()[5] ^= 0x20;
  const std::vector<SharePoint> bad = {{4, shares[4].bytes()}, {1, wrong.bytes()}, {2, shares[2].bytes()}};
  bool refused = false;
  try {
    recover_secret(3, bad, "the shares");
  } catch (const Error& e) {
    refused = e.category() == Category::integrity;
  }
  check(refused, "recover_secret refuses a wrong share with Error(integrity)");
}

void rs1024_case() {
  for (const bool extendable : {false, true}) {
    std::array<std::uint32_t, 33> values{};
    std::uint32_t state = extendable ? 5 : 3;
    for (auto& v : values) {
      std::uint8_t two[2];
      fill(two, state);
      v = ((two[0] << 8) | two[1]) & 1023u;
    }
    mark_secret(std::span(values));
    WordIndices words(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) words.set(i, values[i]);
    rs1024_write_checksum(extendable, words);
    std::uint32_t valid = rs1024_valid(extendable, words);
    words.set(9, words.get(9) ^ 0x40u);
    std::uint32_t broken = rs1024_valid(extendable, words);
    declassify(&valid, sizeof valid);
    declassify(&broken, sizeof broken);
    check(valid == ~0u, "a written RS1024 checksum is valid");
    check(broken == 0, "a changed word fails the RS1024 checksum");
  }
}

void feistel_case() {
  const Secret expected = secret_bytes(16, 13);
  Secret master = Secret::copy_of(expected.bytes());
  Secret passphrase = Secret::copy_of(std::string_view("TREZOR"));
  mark_secret(master.bytes());
  mark_secret(passphrase.bytes());
  const EncryptedMasterSecret ems = encrypt_master_secret(master, passphrase, 1234, false, 0);
  Secret decrypted = decrypt_ems(ems, passphrase);
  declassify(decrypted.data(), decrypted.size());
  check(decrypted.equals(expected), "decrypt_ems undoes encrypt_master_secret");
}

void slip39_case() {
  const Secret expected = secret_bytes(32, 17);
  Secret master = Secret::copy_of(expected.bytes());
  Secret passphrase = Secret::copy_of(std::string_view("TREZOR"));
  mark_secret(master.bytes());
  mark_secret(passphrase.bytes());
  const std::vector<GroupSpec> groups = {{2, 3}, {1, 1}};
  const auto shares = split_master_secret(master, passphrase, 2, groups, true, 0, secret_random(19));
  std::vector<Share> chosen;
  for (const Share* s : {&shares[0][2], &shares[0][0], &shares[1][0]}) {
    chosen.push_back(parse_mnemonic(to_mnemonic(*s)));
  }
  Secret recovered = combine_shares(chosen, passphrase);
  declassify(recovered.data(), recovered.size());
  check(recovered.equals(expected), "SLIP-0039 split, mnemonics and combine round-trip");
}

constexpr Case kCases[] = {
    {"gf256", gf256_case},   {"shamir", shamir_case}, {"rs1024", rs1024_case},
    {"feistel", feistel_case}, {"slip39", slip39_case},
};

}  // namespace

std::span<const Case> library_cases() {
  return kCases;
}

}  // namespace hsm::ct_check
