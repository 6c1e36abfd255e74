// HMAC and KCV with OpenSSL one-shot APIs; intermediate buffers are Secrets.
#include "core/crypto/secret_ops.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/error.h"

namespace hsm::crypto {

Secret hmac_sha256(const Secret& key, std::string_view label) {
  Secret out(32);
  unsigned int len = 32;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(label.data()), label.size(), out.data(),
           &len) == nullptr)
    fail(Category::general, "HMAC-SHA256 failed");
  return out;
}

Bytes hmac_sha256_tag(const Secret& key, ByteView data) {
  Bytes out(32);
  unsigned int len = 32;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr)
    fail(Category::general, "HMAC-SHA256 failed");
  return out;
}

Bytes aes_check_value(const Secret& key) {
  if (key.size() != 32) fail(Category::general, "check value needs a 256-bit AES key");
  Secret block(16);
  int len = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const unsigned char zero[16] = {};
  const bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), nullptr, key.data(), nullptr) == 1 &&
                  EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
                  EVP_EncryptUpdate(ctx, block.data(), &len, zero, 16) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) fail(Category::general, "AES failed");
  return Bytes(block.data(), block.data() + 3);
}

}  // namespace hsm::crypto
