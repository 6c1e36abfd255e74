// SoftHSM facts behind "token keys are non-extractable and not modifiable": what a PIN holder
// can do with an extractable key, and with a modifiable one (docs/design.md, appendix).
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <functional>

#include "raw_token.h"

namespace hsm::facts {
namespace {

using Exfiltration = RawToken;
using Tampering = RawToken;

const Bytes kHolderKey(32, 0xa5);  // the PIN holder's own wrapping key, value known to them

// RFC 5649 unwrap on the host, with the PIN holder's known key (what OpenSSL calls
// id-aes256-wrap-pad).
Bytes kwp_unwrap_on_host(const Bytes& key, const Bytes& blob) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  Bytes out(blob.size() + 16);
  int n = 0;
  const bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, key.data(), nullptr) &&
                  EVP_DecryptUpdate(ctx, out.data(), &n, blob.data(),
                                    static_cast<int>(blob.size()));
  EVP_CIPHER_CTX_free(ctx);
  out.resize(ok ? static_cast<size_t>(n) : 0);
  return out;
}

bool contains(const Bytes& haystack, const Bytes& needle) {
  return !needle.empty() && std::search(haystack.begin(), haystack.end(), needle.begin(),
                                        needle.end()) != haystack.end();
}

TEST_F(Exfiltration, ExtractableKeyLeavesThroughTheHoldersOwnKey) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl priv;
  priv.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE victim = generate_p256(std::move(priv), true);
  CK_RV rv = 0;
  value(victim, &rv);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);  // sensitive: not readable directly

  Tmpl own = aes_value_template(kHolderKey, false);
  own.flag(CKA_WRAP, true).flag(CKA_UNWRAP, true);
  const CK_OBJECT_HANDLE mine = create(std::move(own));
  Bytes blob;
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, mine, victim, &blob), CKR_OK);
  EXPECT_EQ(blob.size(), 80u);  // a P-256 private key (PKCS#8) under AES-KWP

  // Back on the token as a readable copy...
  Tmpl weak;
  weak.num(CKA_CLASS, CKO_PRIVATE_KEY).num(CKA_KEY_TYPE, CKK_EC).flag(CKA_TOKEN, false)
      .flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE copy = 0;
  ASSERT_EQ(unwrap(mine, blob, std::move(weak), &copy), CKR_OK);
  const Bytes scalar = value(copy, &rv);
  ASSERT_EQ(rv, CKR_OK);
  // A big integer, without leading zero bytes: 31 bytes or fewer now and then (1 in 256).
  EXPECT_FALSE(scalar.empty());
  EXPECT_LE(scalar.size(), 32u);
  // ...and off the token entirely: the blob opens on the host with the holder's key.
  EXPECT_TRUE(contains(kwp_unwrap_on_host(kHolderKey, blob), scalar)) << hex(scalar);
}

// RFC 5649 section 4.2 unwrap with nothing but single-block AES decryptions by the token.
// `decrypt_block` is AES-ECB decryption of one 16-byte block under the wrapping key.
Bytes kwp_unwrap_by_oracle(const std::function<CK_RV(const Bytes&, Bytes*)>& decrypt_block,
                           const Bytes& blob) {
  const size_t n = blob.size() / 8 - 1;
  Bytes a(blob.begin(), blob.begin() + 8);
  std::vector<Bytes> r;
  for (size_t i = 1; i <= n; ++i) r.emplace_back(blob.begin() + 8 * i, blob.begin() + 8 * i + 8);
  for (int j = 5; j >= 0; --j)
    for (size_t i = n; i >= 1; --i) {
      const std::uint64_t step = n * static_cast<std::uint64_t>(j) + i;
      Bytes block = a;
      for (int k = 0; k < 8; ++k) block[7 - k] ^= static_cast<unsigned char>(step >> (8 * k));
      block.insert(block.end(), r[i - 1].begin(), r[i - 1].end());
      Bytes plain;
      if (decrypt_block(block, &plain) != CKR_OK) return {};
      a.assign(plain.begin(), plain.begin() + 8);
      r[i - 1].assign(plain.begin() + 8, plain.end());
    }
  Bytes out;
  for (const auto& x : r) out.insert(out.end(), x.begin(), x.end());
  return out;
}

TEST_F(Tampering, ModifiableWrapKeyBecomesADecryptionOracle) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl kek_t = aes_template(true);
  kek_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
      .flag(CKA_UNWRAP, true).flag(CKA_ENCRYPT, false).flag(CKA_DECRYPT, false);
  const CK_OBJECT_HANDLE kek = generate_aes(std::move(kek_t));
  const Bytes secret(32, 0x3c);
  Tmpl victim_t = aes_value_template(secret, false);
  victim_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE victim = create(std::move(victim_t));
  Bytes blob;
  ASSERT_EQ(wrap(CKM_AES_KEY_WRAP_PAD, kek, victim, &blob), CKR_OK);
  ASSERT_EQ(blob.size(), 40u);

  Bytes out;
  EXPECT_EQ(ecb(false, kek, Bytes(16, 0), &out), CKR_KEY_FUNCTION_NOT_PERMITTED);
  // The key is modifiable: the PIN holder turns decryption on, and the blob opens.
  EXPECT_EQ(set(kek, CKA_DECRYPT, true), CKR_OK);
  auto oracle = [&](const Bytes& in, Bytes* plain) { return ecb(false, kek, in, plain); };
  EXPECT_EQ(kwp_unwrap_by_oracle(oracle, blob), secret);
  for (CK_ATTRIBUTE_TYPE a : {CKA_ENCRYPT, CKA_SIGN, CKA_DERIVE})
    EXPECT_EQ(set(kek, a, true), CKR_OK) << a;

  // Not modifiable (last in the template): every usage flag stays as it was born.
  Tmpl frozen_t = aes_template(true);
  frozen_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_WRAP, true)
      .flag(CKA_UNWRAP, true).flag(CKA_DECRYPT, false).flag(CKA_MODIFIABLE, false);
  const CK_OBJECT_HANDLE frozen = generate_aes(std::move(frozen_t));
  for (CK_ATTRIBUTE_TYPE a : {CKA_DECRYPT, CKA_ENCRYPT, CKA_SIGN, CKA_DERIVE})
    EXPECT_EQ(set(frozen, a, true), CKR_ACTION_PROHIBITED) << a;
  EXPECT_EQ(ecb(false, frozen, Bytes(16, 0), &out), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

TEST_F(Tampering, SensitivityAndExtractabilityAreOneWay) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl sealed_t = aes_template(true);
  sealed_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false);
  const CK_OBJECT_HANDLE sealed = generate_aes(std::move(sealed_t));  // modifiable
  EXPECT_EQ(set(sealed, CKA_SENSITIVE, false), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(set(sealed, CKA_EXTRACTABLE, true), CKR_ATTRIBUTE_READ_ONLY);
  Tmpl c1;
  c1.flag(CKA_TOKEN, false).flag(CKA_SENSITIVE, false);
  EXPECT_EQ(copy(sealed, std::move(c1)), CKR_ATTRIBUTE_READ_ONLY);
  Tmpl c2;
  c2.flag(CKA_TOKEN, false).flag(CKA_EXTRACTABLE, true);
  EXPECT_EQ(copy(sealed, std::move(c2)), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(get(sealed, CKA_SENSITIVE), 1);
  EXPECT_EQ(get(sealed, CKA_EXTRACTABLE), 0);
  // The other way is allowed: an extractable key can be made non-extractable, for good.
  Tmpl open_t = aes_template(true);
  open_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, true);
  const CK_OBJECT_HANDLE open = generate_aes(std::move(open_t));
  EXPECT_EQ(set(open, CKA_EXTRACTABLE, false), CKR_OK);
  EXPECT_EQ(set(open, CKA_EXTRACTABLE, true), CKR_ATTRIBUTE_READ_ONLY);
}

TEST_F(Tampering, TokenObjectsAreDestroyableByDefault) {
  ASSERT_EQ(login_user(), CKR_OK);
  Tmpl plain_t = aes_template(true);
  plain_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_MODIFIABLE, false);
  const CK_OBJECT_HANDLE plain = generate_aes(std::move(plain_t));
  EXPECT_EQ(p11()->C_DestroyObject(session(), plain), CKR_OK);
  Tmpl kept_t = aes_template(true);
  kept_t.flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false).flag(CKA_DESTROYABLE, false)
      .flag(CKA_MODIFIABLE, false);
  const CK_OBJECT_HANDLE kept = generate_aes(std::move(kept_t));
  EXPECT_EQ(p11()->C_DestroyObject(session(), kept), CKR_ACTION_PROHIBITED);
}

}  // namespace
}  // namespace hsm::facts
