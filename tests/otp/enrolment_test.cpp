// TOTP enrolment: RFC 4648 base32 vectors and the otpauth:// URI format.
#include "core/otp/enrolment.h"

#include <gtest/gtest.h>

#include <string>

#include "core/bytes.h"
#include "core/error.h"

namespace hsm::otp {
namespace {

std::string reveal(const Secret& s) { return std::string(s.chars()); }  // tests only

TEST(Base32, MatchesRfc4648Vectors) {
  const struct {
    const char* in;
    const char* out;
  } vectors[] = {
      {"", ""},          {"f", "MY"},          {"fo", "MZXQ"},         {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& v : vectors)
    EXPECT_EQ(reveal(base32_encode(Secret::copy_of(std::string_view(v.in)))), v.out) << v.in;
}

TEST(Base32, UsesTheWholeAlphabet) {
  const Secret bytes = Secret::copy_of(from_hex("00443214c74254b635cf84653a56d7c675be77df"));
  EXPECT_EQ(reveal(base32_encode(bytes)), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}

TEST(Base32, EncodesTheRfc6238Seed) {
  EXPECT_EQ(reveal(base32_encode(Secret::copy_of(std::string_view("12345678901234567890")))),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(OtpauthUri, HasTheKeyUriFormat) {
  const Secret seed = Secret::copy_of(std::string_view("12345678901234567890"));
  EXPECT_EQ(reveal(otpauth_uri("ACME", "alice", seed)),
            "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=ACME&algorithm=SHA1&digits=6&period=30");
}

TEST(OtpauthUri, PercentEncodesIssuerAndAccount) {
  const Secret seed = Secret::copy_of(std::string_view("12345678901234567890"));
  EXPECT_EQ(reveal(otpauth_uri("ACME Corp Zürich", "alice@example.com/ops&1", seed)),
            "otpauth://totp/ACME%20Corp%20Z%C3%BCrich:alice%40example.com%2Fops%261"
            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Corp%20Z%C3%BCrich"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(reveal(otpauth_uri("a-b.c_d~e", "x", seed)).substr(0, 27),
            "otpauth://totp/a-b.c_d~e:x?");
}

TEST(OtpauthUri, BadLabelsAndSeedsAreUsageErrors) {
  const Secret seed = Secret::copy_of(std::string_view("12345678901234567890"));
  const Secret empty;
  const struct {
    const char* issuer;
    const char* account;
    const Secret* seed;
  } cases[] = {
      {"", "alice", &seed},       {"ACME", "", &seed},         {"AC:ME", "alice", &seed},
      {"ACME", "al:ice", &seed},  {"ACME", "alice", &empty},
  };
  for (const auto& c : cases) {
    try {
      otpauth_uri(c.issuer, c.account, *c.seed);
      ADD_FAILURE() << c.issuer << " / " << c.account << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage) << e.what();
    }
  }
}

}  // namespace
}  // namespace hsm::otp
