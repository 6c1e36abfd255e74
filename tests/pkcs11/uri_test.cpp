// RFC 7512 parsing and matching: every path attribute (token, manufacturer, serial, model,
// library-manufacturer, library-description, library-version, object, type, id,
// slot-manufacturer, slot-description, slot-id) and every query attribute (pin-source,
// pin-value, module-name, module-path), and the module a URI chooses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/pkcs11/module.h"
#include "core/pkcs11/uri.h"
#include "support/hsm_fixture.h"

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

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TokenIdentity ceremony_token() {
  return {"ceremony", "SoftHSM project", "SoftHSM v2", "abc", 7, "SoftHSM slot ID 0x7",
          "SoftHSM project"};
}

TEST(Pkcs11Uri, ParsesEveryPathAttributeWithPercentDecoding) {
  const auto u = parse_uri(
      "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=0123abcd;model=SoftHSM%20v2;"
      "library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11;"
      "library-version=2.6;object=root%2Dkey;type=private;id=%01%02%ff;"
      "slot-manufacturer=Slot%20Maker;slot-description=Slot%200x2a;slot-id=42");
  EXPECT_EQ(u.token, "My Token");
  EXPECT_EQ(u.manufacturer, "SoftHSM project");
  EXPECT_EQ(u.serial, "0123abcd");
  EXPECT_EQ(u.model, "SoftHSM v2");
  EXPECT_EQ(u.library_manufacturer, "SoftHSM");
  EXPECT_EQ(u.library_description, "Implementation of PKCS11");
  EXPECT_EQ(u.library_version, (LibraryVersion{2, 6}));
  EXPECT_EQ(u.object, "root-key");
  EXPECT_EQ(u.type, "private");
  EXPECT_EQ(u.id, (Bytes{0x01, 0x02, 0xff}));
  EXPECT_EQ(u.slot_manufacturer, "Slot Maker");
  EXPECT_EQ(u.slot_description, "Slot 0x2a");
  EXPECT_EQ(u.slot_id, 42u);
}

TEST(Pkcs11Uri, ParsesEveryQueryAttributeButPinValue) {
  const auto u = parse_uri(
      "pkcs11:token=a?module-path=/usr/lib/x.so&module-name=x&pin-source=file:/p");
  EXPECT_EQ(u.module_path, "/usr/lib/x.so");
  EXPECT_EQ(u.module_name, "x");
  EXPECT_EQ(u.pin_source, "file:/p");
  EXPECT_TRUE(u.names_module());
  EXPECT_FALSE(parse_uri("pkcs11:token=a").names_module());
}

TEST(Pkcs11Uri, EveryTypeValueOfTheRfcParses) {
  for (const char* t : {"public", "private", "cert", "secret-key", "data"}) {
    SCOPED_TRACE(t);
    EXPECT_EQ(parse_uri(std::string("pkcs11:type=") + t).type, t);
  }
}

TEST(Pkcs11Uri, LibraryVersionIsMajorDotMinorWithMinorDefaultingToZero) {
  EXPECT_EQ(parse_uri("pkcs11:library-version=3").library_version, (LibraryVersion{3, 0}));
  EXPECT_EQ(parse_uri("pkcs11:library-version=255.0").library_version, (LibraryVersion{255, 0}));
  for (const char* bad : {"pkcs11:library-version=", "pkcs11:library-version=1.",
                          "pkcs11:library-version=.1", "pkcs11:library-version=1.2.3",
                          "pkcs11:library-version=256", "pkcs11:library-version=1.256",
                          "pkcs11:library-version=v1", "pkcs11:library-version=-1"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(category_of(bad), Category::usage);
  }
}

TEST(Pkcs11Uri, ObjectAttributeNamesTheFirstObjectAttributeGiven) {
  EXPECT_EQ(parse_uri("pkcs11:token=a").object_attribute(), "");
  EXPECT_EQ(parse_uri("pkcs11:object=k").object_attribute(), "object");
  EXPECT_EQ(parse_uri("pkcs11:id=%01").object_attribute(), "id");
  EXPECT_EQ(parse_uri("pkcs11:type=cert").object_attribute(), "type");
}

TEST(Pkcs11Uri, EmptyUriMatchesEveryTokenAndLibrary) {
  const auto u = parse_uri("pkcs11:");
  EXPECT_TRUE(u.names_no_token());
  EXPECT_TRUE(u.matches(TokenIdentity{"any", "m", "x", "s", 3, "d", "sm"}));
  EXPECT_TRUE(u.matches_library(LibraryIdentity{"anyone", "anything", {1, 2}}));
}

TEST(Pkcs11Uri, EachTokenAndSlotAttributeMustMatch) {
  const TokenIdentity t = ceremony_token();
  EXPECT_TRUE(parse_uri("pkcs11:token=ceremony;serial=abc").matches(t));
  EXPECT_TRUE(parse_uri("pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2").matches(t));
  EXPECT_TRUE(parse_uri("pkcs11:slot-id=7;slot-description=SoftHSM%20slot%20ID%200x7;"
                        "slot-manufacturer=SoftHSM%20project").matches(t));
  for (const char* other : {"pkcs11:token=ceremonY", "pkcs11:manufacturer=SoftHSM",
                            "pkcs11:serial=abd", "pkcs11:model=SoftHSM", "pkcs11:slot-id=8",
                            "pkcs11:slot-description=SoftHSM%20slot%20ID%200x8",
                            "pkcs11:slot-manufacturer=Other", "pkcs11:token=ceremony;serial=x"}) {
    SCOPED_TRACE(other);
    EXPECT_FALSE(parse_uri(other).matches(t));
    EXPECT_FALSE(parse_uri(other).names_no_token());
  }
}

TEST(Pkcs11Uri, EachLibraryAttributeMustMatch) {
  const LibraryIdentity lib{"SoftHSM", "Implementation of PKCS11", {2, 6}};
  EXPECT_TRUE(parse_uri("pkcs11:library-manufacturer=SoftHSM;library-description="
                        "Implementation%20of%20PKCS11;library-version=2.6").matches_library(lib));
  EXPECT_FALSE(parse_uri("pkcs11:library-manufacturer=OpenSC").matches_library(lib));
  EXPECT_FALSE(parse_uri("pkcs11:library-description=Other").matches_library(lib));
  EXPECT_FALSE(parse_uri("pkcs11:library-version=2").matches_library(lib));
  EXPECT_TRUE(parse_uri("pkcs11:library-version=2").matches_library({"", "", {2, 0}}));
  // Library attributes say nothing about tokens.
  EXPECT_TRUE(parse_uri("pkcs11:library-version=9").names_no_token());
}

TEST(Pkcs11Uri, RefusesMalformedUris) {
  for (const char* bad : {"pkcs12:token=a", "pkcs11:token=a;token=b", "pkcs11:bogus=1",
                          "pkcs11:token=%4", "pkcs11:token=%zz", "pkcs11:slot-id=x",
                          "pkcs11:slot-id=", "pkcs11:slot-id=-1", "pkcs11:type=secret",
                          "pkcs11:token", "pkcs11:token=a?pin-value=1234", "pkcs11:?unknown=1",
                          "pkcs11:id=%01;id=%02", "pkcs11:slot-id=1;slot-id=1",
                          "pkcs11:library-version=1;library-version=1",
                          "pkcs11:?module-name=a&module-name=b",
                          "pkcs11:?module-path=relative/x.so", "pkcs11:?module-name=../x",
                          "pkcs11:?module-name=", "pkcs11:?pin-source=a&pin-source=b"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(category_of(bad), Category::usage);
  }
}

TEST(Pkcs11Uri, VendorAttributesAreRefusedNotIgnored) {
  EXPECT_EQ(category_of("pkcs11:slot-id=7;x-vendor=1"), Category::usage);
  EXPECT_EQ(category_of("pkcs11:token=a?x-vendor=1"), Category::usage);
  EXPECT_NE(message_of([] { parse_uri("pkcs11:x-vendor=1"); }).find("'x-vendor'"),
            std::string::npos);
}

TEST(Pkcs11Uri, PinValueErrorNeverEchoesThePin) {
  const std::string m = message_of([] { parse_uri("pkcs11:token=a?pin-value=s3cr3t"); });
  EXPECT_NE(m.find("pin-value"), std::string::npos);
  EXPECT_EQ(m.find("s3cr3t"), std::string::npos);
}

TEST(Pkcs11Uri, PercentEncodeRoundTripsAndKeepsUnreservedCharacters) {
  EXPECT_EQ(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(percent_encode("my token;x=1"), "my%20token%3Bx%3D1");
  EXPECT_EQ(percent_decode(percent_encode("\x01\xff?&/")), "\x01\xff?&/");
}

// module-path and module-name choose the module (RFC 7512 section 2.3).
class ModuleForUri : public ::testing::Test {
 protected:
  hsm::test::TempDir tmp_;
  std::string touch(const std::string& name) {
    const auto p = tmp_.path() / name;
    std::ofstream(p) << "not really a module";
    return p.string();
  }
};

TEST_F(ModuleForUri, NoModuleAttributeChoosesNothing) {
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:token=a")), "");
}

TEST_F(ModuleForUri, ModulePathToAFileIsThatModule) {
  const std::string p = touch("libvendor.so");
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:?module-path=" + p)), p);
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:?module-path=" + p + "&module-name=vendor")), p);
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:?module-path=/no/such/m.so")), "/no/such/m.so");
}

TEST_F(ModuleForUri, ModulePathAndADifferentModuleNameAreAUsageError) {
  const std::string p = touch("libvendor.so");
  try {
    module_for_uri(parse_uri("pkcs11:?module-path=" + p + "&module-name=other"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::usage);
  }
}

TEST_F(ModuleForUri, ModuleNameIsLookedUpInAModulePathDirectory) {
  const std::string lib = touch("libvendor.so");
  const std::string plain = touch("plain.so");
  const std::string dir = tmp_.path().string();
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:?module-path=" + dir + "&module-name=vendor")), lib);
  EXPECT_EQ(module_for_uri(parse_uri("pkcs11:?module-path=" + dir + "&module-name=plain")), plain);
  try {
    module_for_uri(parse_uri("pkcs11:?module-path=" + dir));
    FAIL() << "a directory without module-name";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::usage);
  }
  try {
    module_for_uri(parse_uri("pkcs11:?module-path=" + dir + "&module-name=absent"));
    FAIL() << "no such module in the directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::token);
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
  }
}

TEST_F(ModuleForUri, ModuleNameAloneIsLookedUpInTheStandardDirectories) {
  EXPECT_TRUE(same_module(module_for_uri(parse_uri("pkcs11:?module-name=softhsm2")),
                          HSMCTL_SOFTHSM_MODULE));
  EXPECT_TRUE(same_module(module_for_uri(parse_uri("pkcs11:?module-name=p11-kit-proxy")),
                          Module::find_p11_kit_proxy()));
  const std::string m =
      message_of([] { module_for_uri(parse_uri("pkcs11:?module-name=no-such-module")); });
  EXPECT_NE(m.find(module_search_dirs().front()), std::string::npos) << m;
}

TEST(DefaultModule, IsSoftHsmWhereFound) {
  EXPECT_TRUE(same_module(Module::find_default(), HSMCTL_SOFTHSM_MODULE));
  EXPECT_FALSE(Module::find_p11_kit_proxy().empty());
}

}  // namespace
}  // namespace hsm::p11
