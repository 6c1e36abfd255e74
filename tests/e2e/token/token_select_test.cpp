// Token selection by RFC 7512 URI end to end: the module a URI names is the one loaded, slot and
// library attributes match, an ambiguous or unknown selection says what the module holds (with
// slot ids), and what cannot be used is refused, never ignored.
#include <fmt/format.h>


#include "core/pkcs11/module.h"
#include "core/pkcs11/uri.h"
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

using TokenSelect = HsmTest;

std::string encoded(const std::string& s) { return p11::percent_encode(s); }

// The slot ids of the tokens labelled `label`, as hsmctl lists them.
std::vector<unsigned long> slots_labelled(const RunResult& list, const std::string& label) {
  std::vector<unsigned long> out;
  const nlohmann::json listed = list.json();
  for (const auto& s : listed["slots"])
    if (!s["token"].is_null() && s["token"]["label"] == label) out.push_back(s["slot_id"]);
  return out;
}

TEST_F(TokenSelect, SameLabelTwiceIsAmbiguousListsSlotIdsAndSuggestsSlotId) {
  hsm_.init_token("dup");
  hsm_.init_token("dup");
  const auto ids = slots_labelled(hsmctl({"token", "list", "--json"}), "dup");
  ASSERT_EQ(ids.size(), 2u);
  for (const std::string& sel : std::vector<std::string>{"dup", "pkcs11:token=dup"}) {
    SCOPED_TRACE(sel);
    const RunResult r = hsmctl({"--token", sel, "token", "info"});
    expect_failure(r, 2, "matches several tokens");
    for (unsigned long id : ids)
      EXPECT_NE(r.err.find(fmt::format("slot {}", id)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(fmt::format("pkcs11:token=dup;slot-id={}", ids[0])), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("serial="), std::string::npos) << r.err;
  }
  const RunResult r = hsmctl({"--token", fmt::format("pkcs11:token=dup;slot-id={}", ids[1]),
                              "token", "info", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["slot_id"].get<unsigned long>(), ids[1]);
}

TEST_F(TokenSelect, SeveralTokensAndNoTokenOptionSuggestsASlotId) {
  hsm_.init_token("second");
  expect_failure(hsmctl({"token", "info"}, {{"HSMCTL_TOKEN", "<unset>"}}), 2,
                 "choose one with --token, e.g. --token 'pkcs11:slot-id=");
}

TEST_F(TokenSelect, NotFoundNamesTheModuleSearchedAndTheTokensItSaw) {
  const RunResult r = hsmctl({"--token", "ghost", "token", "info"});
  expect_failure(r, 7, "token 'ghost' not found on module " + test_module());
  EXPECT_NE(r.err.find(fmt::format("'test' (slot {}, serial ", hsm_.slot_of("test"))),
            std::string::npos) << r.err;
}

TEST_F(TokenSelect, SlotAttributesMatch) {
  const unsigned long slot = hsm_.slot_of("test");
  std::string description;
  const nlohmann::json listed = hsmctl({"token", "list", "--json"}).json();
  for (const auto& s : listed["slots"])
    if (s["slot_id"] == slot) description = s["description"];
  ASSERT_FALSE(description.empty());
  const std::string both = "pkcs11:slot-description=" + encoded(description) +
                           ";slot-manufacturer=SoftHSM%20project;slot-id=" + std::to_string(slot);
  const RunResult r = hsmctl({"--token", both, "token", "info", "--json"}, {{"HSMCTL_TOKEN", "x"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "test");
  expect_failure(hsmctl({"--token", "pkcs11:slot-description=" + encoded(description + "x"),
                         "token", "info"}), 7, "not found");
  expect_failure(hsmctl({"--token", "pkcs11:slot-manufacturer=Someone%20else", "token", "info"}),
                 7, "not found");
}

TEST_F(TokenSelect, LibraryAttributesMatchTheModule) {
  const std::string described = hsmctl({"token", "info", "--json"}).json()["module_description"];
  // "DESCRIPTION MAJOR.MINOR (MANUFACTURER)" (no std::regex: GCC 12 warns inside it at -O1).
  const std::size_t open = described.rfind(" (");
  ASSERT_NE(open, std::string::npos) << described;
  ASSERT_EQ(described.back(), ')') << described;
  const std::string manufacturer = described.substr(open + 2, described.size() - open - 3);
  const std::string head = described.substr(0, open);
  const std::size_t space = head.rfind(' ');
  ASSERT_NE(space, std::string::npos) << described;
  const std::string description = head.substr(0, space), version = head.substr(space + 1);
  ASSERT_NE(version.find('.'), std::string::npos) << described;
  const std::string uri = fmt::format(
      "pkcs11:token=test;library-description={};library-manufacturer={};library-version={}",
      encoded(description), encoded(manufacturer), version);
  const RunResult r = hsmctl({"--token", uri, "token", "info", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["label"], "test");
  const RunResult other = hsmctl({"--token", "pkcs11:token=test;library-version=99.1", "token",
                                  "info"});
  expect_failure(other, 7, "which the URI's library-* attributes do not match");
  EXPECT_NE(other.err.find(described), std::string::npos) << other.err;
}

TEST_F(TokenSelect, ModuleNameAndModulePathLoadThatModule) {
  const std::map<std::string, std::string> no_module{{"HSMCTL_MODULE", "<unset>"}};
  for (const std::string& uri : std::vector<std::string>{
           "pkcs11:token=test?module-name=softhsm2",
                                "pkcs11:token=test?module-path=" HSMCTL_SOFTHSM_MODULE,
                                "pkcs11:token=test?module-path=" + std::filesystem::path(
                                    HSMCTL_SOFTHSM_MODULE).parent_path().string() +
                                    "&module-name=softhsm2"}) {
    SCOPED_TRACE(uri);
    const RunResult r = hsmctl({"--token", uri, "token", "info", "--json"}, no_module);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.json()["label"], "test");
    EXPECT_TRUE(p11::same_module(r.json()["module"], HSMCTL_SOFTHSM_MODULE)) << r.out;
  }
  // The URI wins over nothing else: a different --module is a usage error, the same is fine.
  expect_failure(hsmctl({"--module", "/bin/true", "--token",
                         "pkcs11:token=test?module-name=softhsm2", "token", "info"}),
                 2, "give only one of them");
  EXPECT_EQ(hsmctl({"--module", HSMCTL_SOFTHSM_MODULE, "--token",
                    "pkcs11:token=test?module-name=softhsm2", "token", "info"}, no_module).code,
            0);
  expect_failure(hsmctl({"--token", "pkcs11:token=test?module-name=no-such-module", "token",
                         "info"}, no_module),
                 6, "no PKCS#11 module named 'no-such-module'");
}

TEST_F(TokenSelect, ModuleNameP11KitProxyReachesTheTokenThroughTheProxy) {
  if (!through_proxy()) GTEST_SKIP() << "needs the private p11-kit configuration of the proxy pass";
  const RunResult r = hsmctl({"--token", "pkcs11:token=test?module-name=p11-kit-proxy", "token",
                              "info", "--json"}, {{"HSMCTL_MODULE", "<unset>"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(p11::same_module(r.json()["module"], p11::Module::find_p11_kit_proxy()));
}

TEST_F(TokenSelect, WithoutAModuleTheDefaultIsSoftHsm) {
  const RunResult r = hsmctl({"token", "info", "--json"}, {{"HSMCTL_MODULE", "<unset>"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(p11::same_module(r.json()["module"], HSMCTL_SOFTHSM_MODULE)) << r.out;
}

}  // namespace
}  // namespace hsm::test
