// The custody contract for offline CA keys, from the attacker's side: the keys `key generate
// --purpose ca` puts on the token, after they have signed certificates and CRLs, refuse every
// raw route out; a quorum CA key leaves no object on the token before, during or after a use,
// and its blob unwraps under nothing the token holds. (The generic keys' routes, with the full
// route table, are in custody_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "attacker.h"
#include "core/keystore/keystore.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

struct CaRoute {
  std::string name;
  std::function<CK_RV(Attacker&, const Target&)> attempt;
  std::vector<CK_RV> refusals;
};

// The four routes: wrap under the attacker's own key, copy weaker, raise a usage flag,
// read the value.
const std::vector<CaRoute> kCaRoutes = {
    {"wrap under own AES key", [](Attacker& a, const Target& t) { return a.wrap_under_own_key(t); },
     {CKR_KEY_UNEXTRACTABLE}},
    {"wrap under own RSA key", [](Attacker& a, const Target& t) { return a.wrap_under_own_rsa(t); },
     {CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE, CKR_MECHANISM_INVALID}},
    {"copy as extractable",
     [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_EXTRACTABLE, true); },
     {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
    {"copy as not sensitive",
     [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_SENSITIVE, false); },
     {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
    {"copy as modifiable",
     [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_MODIFIABLE, true); },
     {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
    {"raise CKA_DECRYPT", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_DECRYPT); },
     {CKR_ACTION_PROHIBITED}},
    {"raise CKA_UNWRAP", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_UNWRAP); },
     {CKR_ACTION_PROHIBITED}},
    {"raise CKA_EXTRACTABLE",
     [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_EXTRACTABLE); },
     {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}},
    {"lower CKA_SENSITIVE", [](Attacker& a, const Target& t) { return a.lower_sensitive(t); },
     {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}},
    {"read the value", [](Attacker& a, const Target& t) { return a.read_value(t); },
     {CKR_ATTRIBUTE_SENSITIVE}},
};

class CaCustody : public test::HsmTest {
 protected:
  void SetUp() override {
    ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1);
    const auto shares = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares).code, 0);
    two_ = write_file("two", read_file(shares / "a.share") + read_file(shares / "b.share")).string();
  }
  // A root certificate and a CRL from `label`, so the key is attacked after real use.
  void use(const std::string& label, const std::vector<std::string>& extra = {}) {
    const std::string cert = (tmp_.path() / (label + ".pem")).string();
    std::vector<std::string> a{"sign", "cert", "--key", label, "--self-signed", "--subject",
                               "CN=" + label, "--days", "30", "--out", cert};
    a.insert(a.end(), extra.begin(), extra.end());
    ASSERT_EQ(hsmctl(a).code, 0);
    std::vector<std::string> c{"sign", "crl", "--key", label, "--issuer-cert", cert,
                               "--next-update", "7", "--out", (tmp_.path() / (label + ".crl")).string()};
    c.insert(c.end(), extra.begin(), extra.end());
    ASSERT_EQ(hsmctl(c).code, 0);
  }
  std::string two_;
};

TEST_F(CaCustody, CaKeysRefuseEveryRouteOutAfterSigning) {
  const std::vector<std::string> algos = {"ec-p256", "ec-p384", "rsa-3072"};
  for (const auto& algo : algos) {
    ASSERT_EQ(hsmctl({"key", "generate", "ca-" + algo, "--algo", algo, "--purpose", "ca"}).code, 0);
    use("ca-" + algo);
  }
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  size_t private_keys = 0;
  for (const auto& key : a.keys("hsmctl-key-ca-")) {
    if (key.cls != CKO_PRIVATE_KEY) continue;
    ++private_keys;
    for (const auto& route : kCaRoutes) {
      SCOPED_TRACE(key.label + ": " + route.name);
      const CK_RV rv = route.attempt(a, key);
      EXPECT_NE(std::find(route.refusals.begin(), route.refusals.end(), rv), route.refusals.end())
          << "got " << rv_text(rv);
    }
  }
  EXPECT_EQ(private_keys, algos.size());
}

TEST_F(CaCustody, QuorumCaKeyIsNeverOnTheTokenAndItsBlobUnwrapsUnderNothingThere) {
  ASSERT_EQ(hsmctl({"key", "generate", "qca", "--quorum", "2", "--purpose", "ca", "--algo",
                    "ec-p384", "--shares-file", two_}).code, 0);
  use("qca", {"--shares-file", two_});
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  EXPECT_TRUE(a.keys("hsmctl-key-qca").empty());
  // No private key on the token but the ones hsmctl names: nothing left over from the uses.
  for (const auto& k : a.keys("")) {
    SCOPED_TRACE(k.label);
    EXPECT_EQ(k.label.rfind("hsmctl-", 0), 0u);
  }
  keystore::Keystore ks(ws_);
  const auto q = ks.find_key("qca");
  ASSERT_TRUE(q && q->wrapped_key);
  const auto wrappers = a.keys("");
  ASSERT_FALSE(wrappers.empty());
  for (const auto& wrapper : wrappers) {
    SCOPED_TRACE(wrapper.label);
    EXPECT_NE(a.unwrap_blob_sealed(wrapper, *q->wrapped_key), CKR_OK);
    EXPECT_NE(a.unwrap_blob_extractable(wrapper, *q->wrapped_key), CKR_OK);
  }
}

}  // namespace
}  // namespace hsm::custody
