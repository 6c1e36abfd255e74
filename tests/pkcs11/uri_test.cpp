// RFC 7512 parsing and matching.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/pkcs11/uri.h"

namespace hsm::p11 {
namespace {

Category category_of(const std::string& text) {
  try {
    parse_uri(text);
  } catch (const Error& e) {
    return e.category();
  }
  return Category::general;
}

TEST(Pkcs11Uri, ParsesEveryTokenAttributeWithPercentDecoding) {
  const auto u = parse_uri(
      "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=0123abcd;model=SoftHSM%20v2;"
      "slot-id=42;object=root%2Dkey;id=%01%02%ff;type=private");
  EXPECT_EQ(u.token, "My Token");
  EXPECT_EQ(u.manufacturer, "SoftHSM project");
  EXPECT_EQ(u.serial, "0123abcd");
  EXPECT_EQ(u.model, "SoftHSM v2");
  EXPECT_EQ(u.slot_id, 42u);
  EXPECT_EQ(u.object, "root-key");
  EXPECT_EQ(u.id, (Bytes{0x01, 0x02, 0xff}));
  EXPECT_EQ(u.type, "private");
}

TEST(Pkcs11Uri, ParsesQueryAttributes) {
  const auto u = parse_uri("pkcs11:token=a?module-path=/usr/lib/x.so&pin-source=file:/p");
  EXPECT_EQ(u.module_path, "/usr/lib/x.so");
  EXPECT_EQ(u.pin_source, "file:/p");
}

TEST(Pkcs11Uri, EmptyUriMatchesEveryToken) {
  const auto u = parse_uri("pkcs11:");
  EXPECT_TRUE(u.names_no_token());
  EXPECT_TRUE(u.matches(TokenIdentity{"any", "m", "x", "s", 3}));
}

TEST(Pkcs11Uri, MatchesOnlyWhenEveryGivenAttributeMatches) {
  const TokenIdentity t{"ceremony", "SoftHSM project", "SoftHSM v2", "abc", 7};
  EXPECT_TRUE(parse_uri("pkcs11:token=ceremony;serial=abc").matches(t));
  EXPECT_FALSE(parse_uri("pkcs11:token=ceremony;serial=abd").matches(t));
  EXPECT_FALSE(parse_uri("pkcs11:slot-id=8").matches(t));
  EXPECT_TRUE(parse_uri("pkcs11:slot-id=7;x-vendor=1").matches(t));
}

TEST(Pkcs11Uri, RefusesMalformedUris) {
  for (const char* bad : {"pkcs12:token=a", "pkcs11:token=a;token=b", "pkcs11:bogus=1",
                          "pkcs11:token=%4", "pkcs11:token=%zz", "pkcs11:slot-id=x",
                          "pkcs11:slot-id=", "pkcs11:type=secret", "pkcs11:token",
                          "pkcs11:token=a?pin-value=1234", "pkcs11:?unknown=1"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(category_of(bad), Category::usage);
  }
}

TEST(Pkcs11Uri, PinValueErrorNeverEchoesThePin) {
  try {
    parse_uri("pkcs11:token=a?pin-value=s3cr3t");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos);
  }
}

}  // namespace
}  // namespace hsm::p11
