// The custody contract, from the attacker's side: with the user PIN and raw PKCS#11, no key
// hsmctl made can be read, exported, re-flagged or copied weaker. Each key kind hsmctl creates
// adds its routes here in the change that creates it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "attacker.h"
#include "core/keystore/keystore.h"
#include "support/hsm_fixture.h"

namespace hsm::custody {
namespace {

using test::HsmTest;

struct Route {
  std::string name;
  std::function<CK_RV(Attacker&, const Target&)> attempt;
  std::vector<CK_RV> refusals;  // the exact answers that count as "refused"
};

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"read CKA_VALUE", [](Attacker& a, const Target& t) { return a.read_value(t); },
       {CKR_ATTRIBUTE_SENSITIVE}},
      {"raise CKA_DECRYPT", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_DECRYPT); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_ENCRYPT", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_ENCRYPT); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_SIGN", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_SIGN); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_WRAP", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_WRAP); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_UNWRAP", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_UNWRAP); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_DERIVE", [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_DERIVE); },
       {CKR_ACTION_PROHIBITED}},
      {"raise CKA_EXTRACTABLE",
       [](Attacker& a, const Target& t) { return a.raise_flag(t, CKA_EXTRACTABLE); },
       {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}},
      {"lower CKA_SENSITIVE", [](Attacker& a, const Target& t) { return a.lower_sensitive(t); },
       {CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY}},
      {"copy as extractable",
       [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_EXTRACTABLE, true); },
       {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
      {"copy as not sensitive",
       [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_SENSITIVE, false); },
       {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
      {"copy as modifiable",
       [](Attacker& a, const Target& t) { return a.copy_weaker(t, CKA_MODIFIABLE, true); },
       {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED}},
      {"wrap under own AES key (KWP)",
       [](Attacker& a, const Target& t) { return a.wrap_under_own_key(t); },
       {CKR_KEY_UNEXTRACTABLE}},
      {"wrap under own RSA key (OAEP)",
       [](Attacker& a, const Target& t) { return a.wrap_under_own_rsa(t); },
       {CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE, CKR_MECHANISM_INVALID}},
  };
  return table;
}

class Custody : public HsmTest {
 protected:
  // Attacks every hsmctl key on the token; returns how many keys were attacked.
  size_t attack_all_keys(const std::string& token = "test") {
    Attacker a(HSMCTL_SOFTHSM_MODULE, token, test::kPin);
    const auto keys = a.keys("hsmctl-");
    for (const auto& key : keys)
      for (const auto& route : routes()) {
        SCOPED_TRACE(key.label + ": " + route.name);
        const CK_RV rv = route.attempt(a, key);
        EXPECT_NE(std::find(route.refusals.begin(), route.refusals.end(), rv),
                  route.refusals.end())
            << "got " << rv_text(rv);
      }
    return keys.size();
  }
  void SetUp() override { ::setenv("SOFTHSM2_CONF", hsm_.conf().c_str(), 1); }
};

TEST_F(Custody, TranscriptKeyRefusesEveryRouteOut) {
  write_file("ws/keystore.sqlite", "", 0600);  // a workspace without a master (hsmctl(1) --dir)
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "w", "make the key"}).code, 0);
  EXPECT_EQ(attack_all_keys(), 1u);  // the provisional transcript key
}

class CustodyWithMaster : public Custody {
 protected:
  void SetUp() override {
    Custody::SetUp();
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
  }
};

TEST_F(CustodyWithMaster, MasterKeysAndBothTranscriptKeysRefuseEveryRouteOut) {
  // MK-wrap, MK-derive, the provisional and the escrowed transcript key.
  EXPECT_EQ(attack_all_keys(), 4u);
}

TEST_F(CustodyWithMaster, NothingUnwrapsUnderMkWrapAsExtractable) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  const auto wrap = a.keys("hsmctl-mk-wrap");
  ASSERT_EQ(wrap.size(), 1u);
  // The attacker can wrap a key of its own under MK-wrap, but never get it back readable.
  CK_RV wrap_rv = 0;
  EXPECT_EQ(a.unwrap_extractable(wrap[0], &wrap_rv), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(wrap_rv, CKR_OK);
  // Nor the escrow blob of the transcript key, read straight from the keystore.
  keystore::Keystore ks(ws_);
  int blobs = 0;
  for (const auto& k : ks.list_keys()) {
    if (!k.wrapped_key) continue;
    ++blobs;
    EXPECT_EQ(a.unwrap_blob_extractable(wrap[0], *k.wrapped_key), CKR_TEMPLATE_INCONSISTENT)
        << k.label;
  }
  EXPECT_EQ(blobs, 1);
}

TEST_F(CustodyWithMaster, SigningKeysRefuseEveryRouteOutAndQuorumKeysAreNotThere) {
  const auto shares = tmp_.path() / "shares";
  const std::string two =
      write_file("two", read_file(shares / "a.share") + read_file(shares / "b.share")).string();
  for (const std::string algo : {"ec-p256", "ec-p384", "rsa-3072"})
    ASSERT_EQ(hsmctl({"key", "generate", "k-" + algo, "--algo", algo}).code, 0);
  ASSERT_EQ(hsmctl({"key", "generate", "ed", "--algo", "ed25519", "--no-backup"}).code, 0);
  ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--shares-file", two}).code, 0);
  // MK-wrap, MK-derive, two transcript keys, four signing keys; no object for the quorum key.
  EXPECT_EQ(attack_all_keys(), 8u);
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  EXPECT_TRUE(a.keys("hsmctl-key-q").empty());
  // The quorum key's blob does not unwrap under anything the token holds, even asking politely.
  keystore::Keystore ks(ws_);
  const auto q = ks.find_key("q");
  ASSERT_TRUE(q && q->wrapped_key);
  for (const auto& wrapper : a.keys("hsmctl-")) {
    SCOPED_TRACE(wrapper.label);
    EXPECT_NE(a.unwrap_blob_sealed(wrapper, *q->wrapped_key), CKR_OK);
  }
  // The MK-wrap escrow blobs are fine under MK-wrap (sealed) — the control for the line above.
  const auto k = ks.find_key("k-ec-p256");
  EXPECT_EQ(a.unwrap_blob_sealed(a.keys("hsmctl-mk-wrap")[0], *k->wrapped_key), CKR_OK);
}

// The control: a key made the way a careless tool would (sensitive but extractable and
// modifiable) falls to the same routes, so the refusals above are the templates' doing.
TEST_F(Custody, RoutesWorkAgainstAKeyWithoutHsmctlsTemplates) {
  Attacker a(HSMCTL_SOFTHSM_MODULE, "test", test::kPin);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE;
  CK_ULONG len = 32;
  char label[] = "hsmctl-control";
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &yes, sizeof yes}, {CKA_SENSITIVE, &yes, sizeof yes},
                      {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE_LEN, &len, sizeof len},
                      {CKA_LABEL, label, sizeof label - 1}};
  CK_OBJECT_HANDLE h = 0;
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  ASSERT_EQ(a.fn()->C_GenerateKey(a.session(), &gen, t, 7, &h), CKR_OK);
  const auto keys = a.keys("hsmctl-control");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(a.wrap_under_own_key(keys[0]), CKR_OK);
  EXPECT_EQ(a.raise_flag(keys[0], CKA_DECRYPT), CKR_OK);
  EXPECT_EQ(a.copy_weaker(keys[0], CKA_DERIVE, true), CKR_OK);
  a.fn()->C_DestroyObject(a.session(), h);
}

}  // namespace
}  // namespace hsm::custody
