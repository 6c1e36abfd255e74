// CK_RV names and the category (hence exit code) each falls in.
#include <gtest/gtest.h>

#include "core/pkcs11/rv.h"

namespace hsm::p11 {
namespace {

TEST(ReturnValue, HasReadableNames) {
  EXPECT_EQ(rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(rv_name(CKR_ACTION_PROHIBITED), "CKR_ACTION_PROHIBITED");
  EXPECT_EQ(rv_name(CKR_TEMPLATE_INCONSISTENT), "CKR_TEMPLATE_INCONSISTENT");
  EXPECT_EQ(rv_name(0x80001234UL), "CKR_0x80001234");
}

TEST(ReturnValue, PinProblemsAreAuthenticationFailures) {
  for (CK_RV rv : {CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_PIN_LEN_RANGE, CKR_PIN_EXPIRED})
    EXPECT_EQ(rv_category(rv), Category::auth) << rv_name(rv);
}

TEST(ReturnValue, DeviceProblemsAreTokenFailures) {
  for (CK_RV rv : {CKR_DEVICE_ERROR, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_MEMORY,
                   CKR_SESSION_HANDLE_INVALID, CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED})
    EXPECT_EQ(rv_category(rv), Category::token) << rv_name(rv);
}

TEST(ReturnValue, CheckThrowsTokenErrorWithNameAndContext) {
  EXPECT_NO_THROW(check(CKR_OK, "anything"));
  try {
    check(CKR_DEVICE_ERROR, "signing");
    FAIL();
  } catch (const TokenError& e) {
    EXPECT_EQ(e.rv(), CKR_DEVICE_ERROR);
    EXPECT_EQ(e.category(), Category::token);
    EXPECT_STREQ(e.what(), "signing failed: CKR_DEVICE_ERROR");
    EXPECT_EQ(e.cause(), "CKR_DEVICE_ERROR");
  }
}

}  // namespace
}  // namespace hsm::p11
