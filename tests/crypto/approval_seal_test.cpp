// A share sealed to a remote-approval request opens only with that request's key, digest and
// custodian name, and any flipped byte is refused; and the construction is the one
// hsmctl-quorum(5) describes: recomputed here from the page with libsodium's X25519, OpenSSL's
// EVP_KDF HKDF and a plain AES-256-GCM decryption.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include <cstring>

#include "core/crypto/approval_seal.h"
#include "core/secure/secret.h"

namespace hsm::crypto {
namespace {

const char* kSealShare = "academic acid acrobat romp cinema";

Bytes seal_digest(std::uint8_t fill) { return Bytes(32, fill); }

// HKDF-SHA256 and AES-256-GCM as hsmctl-quorum(5) words them, from the page alone.
std::string open_as_documented(const Secret& request_private, ByteView request_public,
                               ByteView digest, const std::string& custodian,
                               const SealedShare& s) {
  unsigned char shared[32];
  EXPECT_EQ(crypto_scalarmult(shared, request_private.data(), s.ephemeral_public.data()), 0);
  Bytes salt(s.ephemeral_public);
  salt.insert(salt.end(), request_public.begin(), request_public.end());
  std::string info = "hsmctl v1 quorum approval";
  info.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  char md[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, sizeof shared),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  unsigned char key[32];
  EXPECT_EQ(EVP_KDF_derive(kctx, key, sizeof key, params), 1);
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  Bytes aad(digest.begin(), digest.end());
  aad.insert(aad.end(), custodian.begin(), custodian.end());
  const std::size_t n = s.sealed.size() - 16;
  std::string plain(n, '\0');
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, s.nonce.data());
  EVP_DecryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size()));
  EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(plain.data()), &len, s.sealed.data(),
                    static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, const_cast<std::uint8_t*>(s.sealed.data() + n));
  const int ok = EVP_DecryptFinal_ex(c, nullptr, &fin);
  EVP_CIPHER_CTX_free(c);
  return ok == 1 ? plain : std::string("(does not authenticate)");
}

TEST(ApprovalSeal, OpensOnlyForItsKeyDigestAndCustodian) {
  init_secure_memory();
  const X25519KeyPair request = x25519_generate();
  const Bytes digest = seal_digest(7);
  const SealedShare s = seal_share(request.public_key, digest, "ann", Secret::copy_of(kSealShare));
  EXPECT_EQ(s.nonce.size(), 12u);
  EXPECT_EQ(s.sealed.size(), std::strlen(kSealShare) + 16);

  auto opened = open_share(request, digest, "ann", s);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->chars(), kSealShare);
  EXPECT_FALSE(open_share(request, seal_digest(8), "ann", s));  // another request's digest
  EXPECT_FALSE(open_share(request, digest, "bob", s));          // relabelled
  EXPECT_FALSE(open_share(x25519_generate(), digest, "ann", s));  // another request's key
  for (std::size_t i = 0; i < s.sealed.size(); i += 7) {
    SealedShare flipped = s;
    flipped.sealed[i] ^= 0x01;
    EXPECT_FALSE(open_share(request, digest, "ann", flipped)) << i;
  }
  SealedShare other_nonce = s;
  other_nonce.nonce[0] ^= 0x80;
  EXPECT_FALSE(open_share(request, digest, "ann", other_nonce));
  SealedShare other_eph = s;
  other_eph.ephemeral_public = x25519_generate().public_key;
  EXPECT_FALSE(open_share(request, digest, "ann", other_eph));
}

TEST(ApprovalSeal, IsTheConstructionTheManPageDescribes) {
  init_secure_memory();
  const X25519KeyPair request = x25519_generate();
  const Bytes digest = seal_digest(3);
  const SealedShare s = seal_share(request.public_key, digest, "dee", Secret::copy_of(kSealShare));
  EXPECT_EQ(open_as_documented(request.private_key, request.public_key, digest, "dee", s),
            kSealShare);
}

TEST(ApprovalSeal, RefusesAPublicKeyThatIsNotUsable) {
  init_secure_memory();
  EXPECT_THROW(seal_share(Bytes(31, 1), seal_digest(1), "ann", Secret::copy_of(kSealShare)),
               std::exception);
  // The all-zero point has small order: the shared secret would be all zero.
  EXPECT_THROW(seal_share(Bytes(32, 0), seal_digest(1), "ann", Secret::copy_of(kSealShare)),
               std::exception);
}

}  // namespace
}  // namespace hsm::crypto
