// X25519 + HKDF-SHA256 + AES-256-GCM with OpenSSL 3.0's EVP interfaces (see approval_seal.h).
// Debian 12's OpenSSL has no HPKE (RFC 9180 arrived in 3.2), so this is the same idea spelt
// out: an ephemeral-static key agreement, a key derived with both public keys as salt and the
// request digest in the info, and an AEAD whose associated data names what is approved.
#include "core/crypto/approval_seal.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "core/crypto/host_seal.h"
#include "core/error.h"

namespace hsm::crypto {

namespace {

constexpr std::size_t kX25519Bytes = 32;
constexpr const char* kApprovalInfo = "hsmctl v1 quorum approval";

struct ApprovalPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct ApprovalPctxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using ApprovalPkey = std::unique_ptr<EVP_PKEY, ApprovalPkeyFree>;

ApprovalPkey private_key_of(const Secret& raw) {
  ApprovalPkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (!k) fail(Category::general, "OpenSSL cannot load an X25519 private key");
  return k;
}

Bytes public_key_of(EVP_PKEY* k) {
  Bytes pub(kX25519Bytes);
  std::size_t n = pub.size();
  if (EVP_PKEY_get_raw_public_key(k, pub.data(), &n) != 1 || n != kX25519Bytes)
    fail(Category::general, "OpenSSL cannot give an X25519 public key");
  return pub;
}

// The X25519 shared secret; Error(integrity) for a peer key that is not usable (wrong size, or
// a small-order point, which OpenSSL refuses by the all-zero result).
Secret x25519_agree(const Secret& own_private, ByteView peer_public) {
  if (peer_public.size() != kX25519Bytes)
    fail(Category::integrity, "an X25519 public key has 32 bytes");
  ApprovalPkey own = private_key_of(own_private);
  ApprovalPkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                                peer_public.size()));
  std::unique_ptr<EVP_PKEY_CTX, ApprovalPctxFree> ctx(EVP_PKEY_CTX_new(own.get(), nullptr));
  Secret shared(kX25519Bytes);
  std::size_t n = shared.size();
  if (!peer || !ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &n) != 1 || n != kX25519Bytes)
    fail(Category::integrity, "the X25519 key agreement failed (a public key that is not usable)");
  return shared;
}

// HKDF-SHA256(ikm = shared, salt = ephemeral public || request public,
// info = "hsmctl v1 quorum approval" || digest) -> 32 bytes.
Secret approval_key(const Secret& shared, ByteView ephemeral_public, ByteView request_public,
                  ByteView digest) {
  Bytes salt(ephemeral_public.begin(), ephemeral_public.end());
  salt.insert(salt.end(), request_public.begin(), request_public.end());
  Bytes info(kApprovalInfo, kApprovalInfo + std::strlen(kApprovalInfo));
  info.insert(info.end(), digest.begin(), digest.end());
  std::unique_ptr<EVP_PKEY_CTX, ApprovalPctxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  Secret key(32);
  std::size_t n = key.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), shared.data(), static_cast<int>(shared.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), key.data(), &n) != 1 || n != 32)
    fail(Category::general, "OpenSSL HKDF-SHA256 failed");
  return key;
}

Bytes approval_aad(ByteView digest, std::string_view custodian) {
  Bytes aad(digest.begin(), digest.end());
  aad.insert(aad.end(), custodian.begin(), custodian.end());
  return aad;
}

}  // namespace

X25519KeyPair x25519_generate() {
  X25519KeyPair kp;
  kp.private_key = Secret(kX25519Bytes);
  if (RAND_priv_bytes(kp.private_key.data(), static_cast<int>(kX25519Bytes)) != 1)
    fail(Category::general, "OpenSSL has no random bytes for an X25519 key");
  ApprovalPkey k = private_key_of(kp.private_key);  // OpenSSL clamps the scalar itself
  kp.public_key = public_key_of(k.get());
  return kp;
}

SealedShare seal_share(ByteView request_public, ByteView request_digest,
                       std::string_view custodian, const Secret& share) {
  const X25519KeyPair eph = x25519_generate();
  const Secret shared = x25519_agree(eph.private_key, request_public);
  const Secret key = approval_key(shared, eph.public_key, request_public, request_digest);
  SealedShare s;
  s.ephemeral_public = eph.public_key;
  s.nonce = Bytes(12);
  if (RAND_bytes(s.nonce.data(), static_cast<int>(s.nonce.size())) != 1)
    fail(Category::general, "OpenSSL has no random bytes for a nonce");
  s.sealed = aes_gcm_seal(key, s.nonce, approval_aad(request_digest, custodian), share.bytes());
  return s;
}

std::optional<Secret> open_share(const X25519KeyPair& request_key, ByteView request_digest,
                                 std::string_view custodian, const SealedShare& s) {
  if (s.nonce.size() != 12) return std::nullopt;
  Secret shared;
  try {
    shared = x25519_agree(request_key.private_key, s.ephemeral_public);
  } catch (const Error&) {
    return std::nullopt;
  }
  const Secret key = approval_key(shared, s.ephemeral_public, request_key.public_key, request_digest);
  return aes_gcm_open(key, s.nonce, approval_aad(request_digest, custodian), s.sealed);
}

}  // namespace hsm::crypto
