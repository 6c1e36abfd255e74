// DER helpers: SET OF sorts its elements by their encodings, shorter first when one is a
// prefix of another (X.690 11.6), whatever order they come in.
#include "core/x509/der.h"

#include <gtest/gtest.h>

namespace hsm::x509 {
namespace {

TEST(Der, SetOfSortsElementsByTheirEncodings) {
  const Bytes a{0x02, 0x01, 0x05}, b{0x02, 0x01}, c{0x01, 0xff}, d{0x04, 0x00};
  const Bytes set = der::set_of({a, d, b, c});
  const Bytes expect{0x31, 0x09, 0x01, 0xff, 0x02, 0x01, 0x02, 0x01, 0x05, 0x04, 0x00};
  EXPECT_EQ(set, expect);
  EXPECT_EQ(der::set_of({}), (Bytes{0x31, 0x00}));
}

}  // namespace
}  // namespace hsm::x509
