// RSA-OAEP and AES-256-GCM with OpenSSL's EVP interfaces (see host_seal.h).
#include "core/crypto/host_seal.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>

#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm::crypto {

namespace {

constexpr std::size_t kTag = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct PctxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

}  // namespace

Bytes rsa_oaep_encrypt(ByteView spki, const Secret& value, bool sha1) {
  const Pkey key = load_spki(spki);
  std::unique_ptr<EVP_PKEY_CTX, PctxFree> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  const EVP_MD* md = sha1 ? EVP_sha1() : EVP_sha256();
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len, value.data(), value.size()) != 1)
    fail(Category::general, "RSA-OAEP encryption to the token's transport key failed");
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, value.data(), value.size()) != 1)
    fail(Category::general, "RSA-OAEP encryption to the token's transport key failed");
  out.resize(len);
  return out;
}

Bytes aes_kwp_wrap(const Secret& key, const Secret& value) {
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  Bytes out(value.size() + 16);
  int len = 0, tail = 0;
  const bool ok =
      ctx && key.size() == 32 &&
      (EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW), true) &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_wrap_pad(), nullptr, key.data(), nullptr) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, value.data(),
                        static_cast<int>(value.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &tail) == 1;
  if (!ok) fail(Category::general, "AES key wrap on the host failed");
  out.resize(static_cast<std::size_t>(len + tail));
  return out;
}

Bytes aes_gcm_seal(const Secret& key, ByteView nonce, ByteView aad, ByteView plaintext) {
  if (key.size() != 32 || nonce.size() != 12)
    fail(Category::general, "internal error: AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  Bytes out(plaintext.size() + kTag);
  int len = 0, tail = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &tail) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          out.data() + plaintext.size()) == 1;
  if (!ok) fail(Category::general, "AES-256-GCM encryption on the host failed");
  return out;
}

std::optional<Secret> aes_gcm_open(const Secret& key, ByteView nonce, ByteView aad,
                                   ByteView sealed) {
  if (key.size() != 32 || nonce.size() != 12 || sealed.size() < kTag) return std::nullopt;
  const std::size_t n = sealed.size() - kTag;
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  Secret out(n == 0 ? 1 : n);
  int len = 0, tail = 0;
  Bytes tag(sealed.end() - kTag, sealed.end());
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data(), static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &tail) == 1;
  if (!ok) return std::nullopt;
  return out.prefix(n);
}

}  // namespace hsm::crypto
