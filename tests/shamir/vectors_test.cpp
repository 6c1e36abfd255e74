// The 45 official SLIP-0039 test vectors (tests/vectors/slip39/vectors.json, passphrase
// "TREZOR"): valid sets recover the listed master secret, invalid ones fail for the right reason.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/shamir/slip39.h"
#include "tests/shamir/fixtures.h"

namespace hsm::slip39 {
namespace {

using testing::chars;
using testing::error_of;
using testing::hex;
using testing::text;

const nlohmann::json& vectors() {
  static const nlohmann::json all = [] {
    const std::string path = testing::vectors_dir() + "/vectors.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path + "");
    return nlohmann::json::parse(in);
  }();
  return all;
}

struct Refusal {
  Category category;
  std::string reason;  // fragment of the message
};

// Why each invalid vector must be refused, by vector number.
const std::map<int, Refusal>& refusals() {
  static const std::map<int, Refusal> table = [] {
    std::map<int, Refusal> t;
    for (int base : {0, 19}) {  // 2..16 are 128-bit, 21..35 the same cases for 256 bits
      t[base + 2] = {Category::integrity, "checksum failed"};
      t[base + 3] = {Category::integrity, "padding bits are not zero"};
      t[base + 5] = {Category::quorum, "still needed: 1 more share of group 1."};
      t[base + 6] = {Category::integrity, "has identifier"};
      t[base + 7] = {Category::integrity, "has iteration exponent"};
      t[base + 8] = {Category::integrity, "has group threshold"};
      t[base + 9] = {Category::integrity, "has group count"};
      t[base + 10] = {Category::integrity, "groups are needed out of only"};
      t[base + 11] = {Category::integrity, "are both member"};
      t[base + 12] = {Category::integrity, "shares but share 1 says"};
      t[base + 13] = {Category::integrity, "digest mismatch"};
      t[base + 14] = {Category::quorum, "still needed: shares from 1 more group."};
      t[base + 15] = {Category::quorum, "still needed: shares from 1 more group."};
      t[base + 16] = {Category::quorum, "still needed: 1 more share of group"};
    }
    t[39] = {Category::integrity, "has 19 words, which is not the length of any share"};
    t[40] = {Category::integrity, "has 21 words, which is not the length of any share"};
    return t;
  }();
  return table;
}

class Slip39Vector : public ::testing::TestWithParam<int> {};

TEST_P(Slip39Vector, RecoversOrRefusesAsListed) {
  const int number = GetParam();
  const nlohmann::json& entry = vectors().at(number - 1);
  const std::string description = entry[0];
  const std::string expected = entry[2];
  SCOPED_TRACE(description);
  ASSERT_EQ(description.substr(0, description.find('.')), std::to_string(number));

  const Secret passphrase = text("TREZOR");
  Secret recovered;
  const auto error = error_of([&] {
    std::vector<Share> shares;
    for (const std::string mnemonic : entry[1]) shares.push_back(parse_mnemonic(text(mnemonic)));
    recovered = combine_shares(shares, passphrase);
  });

  const auto refusal = refusals().find(number);
  if (expected.empty()) {
    ASSERT_NE(refusal, refusals().end()) << "no expected reason for invalid vector " << number;
    ASSERT_TRUE(error.has_value()) << "invalid vector was accepted";
    EXPECT_EQ(category_name(error->category()), category_name(refusal->second.category))
        << error->what();
    EXPECT_NE(std::string(error->what()).find(refusal->second.reason), std::string::npos)
        << error->what();
    return;
  }
  EXPECT_EQ(refusal, refusals().end()) << "vector " << number << " is valid";
  ASSERT_FALSE(error.has_value()) << error->what();
  EXPECT_EQ(hex(recovered), expected);
  // Each valid mnemonic is reproduced exactly from its parsed share.
  for (const std::string mnemonic : entry[1]) {
    EXPECT_EQ(chars(to_mnemonic(parse_mnemonic(text(mnemonic)))), mnemonic);
  }
}

TEST(Slip39Vectors, FileHoldsFortyFiveVectors) {
  EXPECT_EQ(vectors().size(), 45u);
}

INSTANTIATE_TEST_SUITE_P(Official, Slip39Vector, ::testing::Range(1, 46),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "Vector" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace hsm::slip39
