// SoftHSM facts behind two choices: hsmctl escrows at birth instead of using trusted keys with
// CKA_WRAP_WITH_TRUSTED, and every hsmctl key is CKA_PRIVATE (docs/design.md, appendix).
#include "raw_token.h"

namespace hsm::facts {
namespace {

using Trust = RawToken;

// The handles of the objects labelled `label` that this session can see.
std::vector<CK_OBJECT_HANDLE> find_labelled(CK_FUNCTION_LIST* p11, CK_SESSION_HANDLE s,
                                            const std::string& label) {
  Tmpl t;
  t.text(CKA_LABEL, label);
  std::vector<CK_OBJECT_HANDLE> out(16);
  CK_ULONG n = 0;
  p11->C_FindObjectsInit(s, t.data(), t.size());
  p11->C_FindObjects(s, out.data(), out.size(), &n);
  p11->C_FindObjectsFinal(s);
  out.resize(n);
  return out;
}

TEST_F(Trust, TrustedCopyLetsWrapWithTrustedKeysOut) {
  // A user cannot make a trusted key, nor log in as SO beside the user.
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl self_trust = aes_template(false);
  self_trust.flag(CKA_TRUSTED, true);
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(generate_aes_rv(std::move(self_trust), &h), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(login_so(), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
  logout();

  // The SO can, but only on a public object: a private one needs the user logged in.
  ASSERT_EQ(login_so(), CKR_OK);
  Tmpl so_private = aes_template(true);
  so_private.flag(CKA_TRUSTED, true).flag(CKA_WRAP, true);
  EXPECT_EQ(generate_aes_rv(std::move(so_private), &h), CKR_USER_NOT_LOGGED_IN);
  Tmpl so_public;
  so_public.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).num(CKA_VALUE_LEN, 32)
      .flag(CKA_TOKEN, true).flag(CKA_PRIVATE, false).flag(CKA_WRAP, true)
      .flag(CKA_TRUSTED, true).text(CKA_LABEL, "so-trusted");
  ASSERT_EQ(generate_aes_rv(std::move(so_public), &h), CKR_OK);
  EXPECT_EQ(set(h, CKA_TRUSTED, false), CKR_ATTRIBUTE_READ_ONLY);
  logout();

  // The user copies it into a private key that stays trusted and can unwrap as well.
  ASSERT_EQ(login_user(), CKR_OK);
  const auto found = find_labelled(p11(), session(), "so-trusted");
  ASSERT_EQ(found.size(), 1u);
  Tmpl widen;
  widen.flag(CKA_TOKEN, false).flag(CKA_PRIVATE, true).flag(CKA_WRAP, true).flag(CKA_UNWRAP, true);
  CK_OBJECT_HANDLE trusted_copy = 0;
  ASSERT_EQ(copy(found[0], std::move(widen), &trusted_copy), CKR_OK);
  EXPECT_EQ(get(trusted_copy, CKA_TRUSTED), 1);
  EXPECT_EQ(get(trusted_copy, CKA_UNWRAP), 1);

  // A key that may be wrapped only with a trusted key...
  Tmpl priv;
  priv.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true).flag(CKA_WRAP_WITH_TRUSTED, true);
  const CK_OBJECT_HANDLE wwt = generate_p256(std::move(priv), true);
  Tmpl own_t = aes_value_template(Bytes(32, 0x11), false);
  own_t.flag(CKA_WRAP, true);
  const CK_OBJECT_HANDLE own = create(std::move(own_t));
  Bytes blob;
  EXPECT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, own, wwt, &blob), CKR_KEY_NOT_WRAPPABLE);
  // ...comes out through the trusted copy, readable.
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, trusted_copy, wwt, &blob), CKR_OK);
  Tmpl weak;
  weak.num(CKA_CLASS, CKO_PRIVATE_KEY).num(CKA_KEY_TYPE, CKK_EC).flag(CKA_TOKEN, false)
      .flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE out = 0;
  ASSERT_EQ(unwrap(trusted_copy, blob, std::move(weak), &out), CKR_OK);
  CK_RV rv = 0;
  // The scalar is a big integer, without leading zero bytes: 31 bytes or fewer now and then
  // (1 in 256), never more than 32.
  const Bytes scalar = value(out, &rv);
  EXPECT_EQ(rv, CKR_OK);
  EXPECT_FALSE(scalar.empty());
  EXPECT_LE(scalar.size(), 32u);
}

TEST_F(Trust, PublicKeysWorkWithoutLogin) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl pub = aes_template(true);
  pub.flag(CKA_PRIVATE, false).flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false)
      .flag(CKA_DERIVE, true).text(CKA_LABEL, "public-key");
  generate_aes(std::move(pub));
  Tmpl priv = aes_template(true);
  priv.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_DERIVE, true)
      .text(CKA_LABEL, "private-key");
  generate_aes(std::move(priv));
  logout();

  // Nobody logged in: the private key is invisible, the public one works for anyone.
  EXPECT_TRUE(find_labelled(p11(), session(), "private-key").empty());
  const auto found = find_labelled(p11(), session(), "public-key");
  ASSERT_EQ(found.size(), 1u);
  Tmpl mine;
  mine.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .flag(CKA_TOKEN, false).flag(CKA_PRIVATE, false).flag(CKA_SENSITIVE, false)
      .flag(CKA_EXTRACTABLE, true).num(CKA_VALUE_LEN, 32);
  CK_OBJECT_HANDLE derived = 0;
  ASSERT_EQ(derive_ecb(found[0], Bytes(32, 0), std::move(mine), &derived), CKR_OK);
  CK_RV rv = 0;
  EXPECT_EQ(value(derived, &rv).size(), 32u);
  EXPECT_EQ(rv, CKR_OK);
}

}  // namespace
}  // namespace hsm::facts
