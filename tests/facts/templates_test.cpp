// SoftHSM facts behind hsmctl's key templates: CKA_ALLOWED_MECHANISMS and CKA_UNWRAP_TEMPLATE
// are enforced and fixed at creation, CKA_MODIFIABLE=false must come last, and provenance
// attributes say how a key was made (docs/design.md, appendix).
#include "raw_token.h"

namespace hsm::facts {
namespace {

using Templates = RawToken;
using Provenance = RawToken;

TEST_F(Templates, AllowedMechanismsAreEnforcedAndFixed) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl k_t = aes_template(true);
  k_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
      .flag(CKA_ENCRYPT, true).flag(CKA_DERIVE, true).mechanisms({CKM_AES_KEY_WRAP_PAD});
  const CK_OBJECT_HANDLE k = generate_aes(std::move(k_t));
  CK_OBJECT_HANDLE derived = 0;
  Tmpl d_t;
  d_t.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_GENERIC_SECRET).flag(CKA_TOKEN, false);
  EXPECT_EQ(derive_ecb(k, Bytes(32, 1), std::move(d_t), &derived), CKR_MECHANISM_INVALID);
  Bytes out;
  EXPECT_EQ(ecb(true, k, Bytes(16, 0), &out), CKR_MECHANISM_INVALID);
  Tmpl v_t = aes_value_template(Bytes(32, 7), false);
  v_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE victim = create(std::move(v_t));
  EXPECT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, k, victim, &out), CKR_OK);  // what it is allowed
  // The list cannot grow: neither in place nor in a copy.
  Tmpl more;
  more.mechanisms({CKM_AES_KEY_WRAP_PAD, CKM_AES_ECB_ENCRYPT_DATA});
  EXPECT_EQ(p11()->C_SetAttributeValue(session(), k, more.data(), more.size()),
            CKR_ATTRIBUTE_READ_ONLY);
  Tmpl more_copy;
  more_copy.flag(CKA_TOKEN, false).mechanisms({CKM_AES_KEY_WRAP_PAD, CKM_AES_ECB_ENCRYPT_DATA});
  EXPECT_EQ(copy(k, std::move(more_copy)), CKR_ATTRIBUTE_READ_ONLY);

  // A signing key limited to RSA-PSS refuses PKCS#1 v1.5 at C_SignInit.
  Tmpl pub;
  pub.flag(CKA_TOKEN, false).flag(CKA_VERIFY, true).num(CKA_MODULUS_BITS, 2048)
      .bytes(CKA_PUBLIC_EXPONENT, {0x01, 0x00, 0x01});
  Tmpl priv;
  priv.flag(CKA_TOKEN, false).flag(CKA_PRIVATE, true).flag(CKA_SENSITIVE, true)
      .flag(CKA_SIGN, true).mechanisms({CKM_SHA256_RSA_PKCS_PSS});
  CK_MECHANISM gen{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pk = 0, sk = 0;
  ASSERT_EQ(p11()->C_GenerateKeyPair(session(), &gen, pub.data(), pub.size(), priv.data(),
                                     priv.size(), &pk, &sk), CKR_OK);
  CK_MECHANISM pkcs1{CKM_SHA256_RSA_PKCS, nullptr, 0};
  EXPECT_EQ(p11()->C_SignInit(session(), &pkcs1, sk), CKR_MECHANISM_INVALID);
  CK_RSA_PKCS_PSS_PARAMS pss_p{CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM pss{CKM_SHA256_RSA_PKCS_PSS, &pss_p, sizeof pss_p};
  EXPECT_EQ(p11()->C_SignInit(session(), &pss, sk), CKR_OK);
}

TEST_F(Templates, UnwrapTemplateIsFixed) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl sealed;
  sealed.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false);
  Tmpl kek_t = aes_template(true);
  kek_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
      .flag(CKA_UNWRAP, true).nested(CKA_UNWRAP_TEMPLATE, sealed);
  const CK_OBJECT_HANDLE kek = generate_aes(std::move(kek_t));
  Tmpl v_t = aes_value_template(Bytes(32, 0xc0), false);
  v_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE victim = create(std::move(v_t));
  Bytes blob;
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, kek, victim, &blob), CKR_OK);

  auto base = [] {
    Tmpl t;
    t.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).flag(CKA_TOKEN, false);
    return t;
  };
  CK_OBJECT_HANDLE h = 0;
  Tmpl weak = base();
  weak.flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
  EXPECT_EQ(unwrap(kek, blob, std::move(weak), &h), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(unwrap(kek, blob, base(), &h), CKR_TEMPLATE_INCONSISTENT);  // silent on both
  Tmpl half = base();
  half.flag(CKA_SENSITIVE, true);
  EXPECT_EQ(unwrap(kek, blob, std::move(half), &h), CKR_TEMPLATE_INCONSISTENT);
  Tmpl good = base();
  good.flag(CKA_EXTRACTABLE, false).flag(CKA_SENSITIVE, true);
  ASSERT_EQ(unwrap(kek, blob, std::move(good), &h), CKR_OK);
  CK_RV rv = 0;
  value(h, &rv);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);

  Tmpl loose;
  loose.flag(CKA_TOKEN, false);
  Tmpl replace;
  replace.nested(CKA_UNWRAP_TEMPLATE, loose);
  EXPECT_EQ(p11()->C_SetAttributeValue(session(), kek, replace.data(), replace.size()),
            CKR_ATTRIBUTE_READ_ONLY);
  Tmpl replace_copy;
  replace_copy.flag(CKA_TOKEN, false).nested(CKA_UNWRAP_TEMPLATE, loose);
  EXPECT_EQ(copy(kek, std::move(replace_copy)), CKR_ATTRIBUTE_READ_ONLY);
}

TEST_F(Templates, NotModifiableMustComeLast) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl kek_t = aes_template(true);
  kek_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
      .flag(CKA_UNWRAP, true).flag(CKA_MODIFIABLE, false);
  const CK_OBJECT_HANDLE kek = generate_aes(std::move(kek_t));
  Tmpl priv;
  priv.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE session_key = generate_p256(std::move(priv), false);
  Bytes blob;
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, kek, session_key, &blob), CKR_OK);

  auto key = [](bool modifiable_last) {
    Tmpl t;
    t.num(CKA_CLASS, CKO_PRIVATE_KEY).num(CKA_KEY_TYPE, CKK_EC).flag(CKA_TOKEN, true)
        .flag(CKA_PRIVATE, true);
    if (!modifiable_last) t.flag(CKA_MODIFIABLE, false);
    t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_SIGN, true);
    if (modifiable_last) t.flag(CKA_MODIFIABLE, false);
    return t;
  };
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(unwrap(kek, blob, key(false), &h), CKR_ATTRIBUTE_READ_ONLY);
  ASSERT_EQ(unwrap(kek, blob, key(true), &h), CKR_OK);
  EXPECT_EQ(get(h, CKA_MODIFIABLE), 0);
  // The same order rule for C_CopyObject.
  Tmpl copy_middle;
  copy_middle.flag(CKA_TOKEN, false).flag(CKA_MODIFIABLE, false).flag(CKA_SIGN, true);
  EXPECT_EQ(copy(session_key, std::move(copy_middle)), CKR_ATTRIBUTE_READ_ONLY);
  Tmpl copy_last;
  copy_last.flag(CKA_TOKEN, false).flag(CKA_SIGN, true).flag(CKA_MODIFIABLE, false);
  EXPECT_EQ(copy(session_key, std::move(copy_last)), CKR_OK);
}

TEST_F(Provenance, OnlyGeneratedKeysAreLocalAndNeverExtractable) {
  ASSERT_EQ(login_user(), CKR_OK);
  auto sealed = [](Tmpl t) {
    t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
        .flag(CKA_UNWRAP, true);
    return t;
  };
  const CK_OBJECT_HANDLE generated = generate_aes(sealed(aes_template(false)));
  const CK_OBJECT_HANDLE imported = create(sealed(aes_value_template(Bytes(32, 9), false)));
  Tmpl v_t = aes_value_template(Bytes(32, 4), false);
  v_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE victim = create(std::move(v_t));
  Bytes blob;
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, generated, victim, &blob), CKR_OK);
  Tmpl u_t;
  u_t.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).flag(CKA_TOKEN, false)
      .flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false);
  CK_OBJECT_HANDLE unwrapped = 0;
  ASSERT_EQ(unwrap(generated, blob, std::move(u_t), &unwrapped), CKR_OK);

  for (CK_ATTRIBUTE_TYPE a : {CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL}) {
    EXPECT_EQ(get(generated, a), 1) << "C_GenerateKey, attribute " << a;
    EXPECT_EQ(get(imported, a), 0) << "C_CreateObject, attribute " << a;
    EXPECT_EQ(get(unwrapped, a), 0) << "C_UnwrapKey, attribute " << a;
  }
  // None of them can be claimed by a template or set later.
  for (CK_ATTRIBUTE_TYPE a : {CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL}) {
    Tmpl forged = sealed(aes_value_template(Bytes(32, 5), false));
    forged.flag(a, true);
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(create_rv(std::move(forged), &h), CKR_ATTRIBUTE_READ_ONLY) << a;
    EXPECT_EQ(set(imported, a, true), CKR_ATTRIBUTE_READ_ONLY) << a;
  }
  Tmpl forged_unwrap;
  forged_unwrap.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).flag(CKA_TOKEN, false)
      .flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_NEVER_EXTRACTABLE, true);
  EXPECT_EQ(unwrap(generated, blob, std::move(forged_unwrap), &unwrapped), CKR_ATTRIBUTE_READ_ONLY);
}

}  // namespace
}  // namespace hsm::facts
