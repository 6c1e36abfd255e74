// Host-side DEK wrapping with OpenSSL 3: one-use ECDH, AES-ECB key derivation, RFC 3394 wrap.
#include "core/crypto/dek_envelope.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/canonical_json.h"

namespace hsm::crypto {

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

bool context_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

void append_field(Bytes& out, ByteView field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
  out.insert(out.end(), field.begin(), field.end());
}

Bytes u64be(std::uint64_t v) {
  Bytes out(8);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return out;
}

// The ECDH x-coordinate of `mine` with `peer` (both P-256).
Secret agree(EVP_PKEY* mine, EVP_PKEY* peer) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(mine, nullptr));
  Secret z(32);
  std::size_t len = z.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
      EVP_PKEY_derive(ctx.get(), z.data(), &len) != 1 || len != 32)
    fail(Category::general, "OpenSSL cannot compute the ECDH agreement with the group key");
  return z;
}

// AES-256-ECB(z, data) for 32 bytes of data: what CKM_AES_ECB_ENCRYPT_DATA derives on a token.
Secret derive_kek(const Secret& z, ByteView data) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  Secret kek(32);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr, z.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), kek.data(), &len, data.data(), static_cast<int>(data.size())) != 1 ||
      len != 32)
    fail(Category::general, "OpenSSL cannot derive the key-encryption key (AES-256-ECB)");
  return kek;
}

Bytes aes_wrap(const Secret& kek, const Secret& dek) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  Bytes out(kWrappedDekSize + 16);
  int len = 0, fin = 0;
  if (!ctx) fail(Category::general, "OpenSSL cannot allocate a cipher context");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_wrap(), nullptr, kek.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, dek.data(), static_cast<int>(dek.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
      static_cast<std::size_t>(len + fin) != kWrappedDekSize)
    fail(Category::general, "OpenSSL cannot wrap the DEK (AES key wrap, RFC 3394)");
  out.resize(kWrappedDekSize);
  return out;
}

Bytes member_bytes(const nlohmann::json& j, const char* name, const std::string& what, bool hex) {
  if (!j.contains(name) || !j[name].is_string())
    fail(Category::integrity, fmt::format("{} has no '{}': it is not an hsmctl DEK", what, name));
  try {
    return hex ? from_hex(j[name].get<std::string>()) : from_base64(j[name].get<std::string>());
  } catch (const Error&) {
    fail(Category::integrity, fmt::format("{} has a malformed '{}': the file was changed", what,
                                          name));
  }
}

}  // namespace

void add_context_pair(DekContext& context, const std::string& pair) {
  const auto eq = pair.find('=');
  const std::string key = pair.substr(0, eq);
  if (eq == std::string::npos || key.empty() || key.size() > 64 ||
      !std::all_of(key.begin(), key.end(), context_key_char))
    fail(Category::usage, fmt::format("--context '{}' must be KEY=VALUE with a KEY of 1-64 "
                                      "letters, digits, '.', '_' or '-'", pair));
  const std::string value = pair.substr(eq + 1);
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      fail(Category::usage, fmt::format("the value of --context '{}' has a control character",
                                        key));
  if (!context.emplace(key, value).second)
    fail(Category::usage, fmt::format("--context names '{}' more than once", key));
}

Bytes dek_kdf_data(const DekEnvelope& e, ByteView group_spki) {
  Bytes in = to_bytes("hsmctl v1 dek");
  append_field(in, as_bytes(e.group));
  append_field(in, u64be(static_cast<std::uint64_t>(e.key_version)));
  append_field(in, e.dek_id);
  nlohmann::json ctx = nlohmann::json::object();
  for (const auto& [k, v] : e.context) ctx[k] = v;
  append_field(in, as_bytes(transcript::canonical_json(ctx)));
  append_field(in, e.ephemeral_public_key);
  append_field(in, group_spki);
  return sha256(in);
}

NewDek new_wrapped_dek(const std::string& group, std::int64_t key_version, ByteView group_spki,
                       const DekContext& context) {
  const Pkey peer = load_spki(group_spki);
  if (!is_p256(peer.get()))
    fail(Category::integrity, fmt::format("the public key of group '{}' is not a P-256 key: the "
                                          "keystore was changed", group));
  const Pkey eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!eph) fail(Category::general, "OpenSSL cannot make a one-use P-256 key");
  NewDek out{{group, key_version, Bytes(kDekIdSize), context, spki_der(eph.get()), {}},
             Secret(kDekSize)};
  randombytes_buf(out.envelope.dek_id.data(), kDekIdSize);
  randombytes_buf(out.dek.data(), kDekSize);
  const Secret z = agree(eph.get(), peer.get());
  const Secret kek = derive_kek(z, dek_kdf_data(out.envelope, group_spki));
  out.envelope.wrapped_dek = aes_wrap(kek, out.dek);
  return out;
}

nlohmann::json envelope_json(const DekEnvelope& e) {
  nlohmann::json ctx = nlohmann::json::object();
  for (const auto& [k, v] : e.context) ctx[k] = v;
  return {{"group", e.group},
          {"key_version", e.key_version},
          {"dek_id", to_hex(e.dek_id)},
          {"context", ctx},
          {"ephemeral_public_key", to_base64(e.ephemeral_public_key)},
          {"wrapped_dek", to_base64(e.wrapped_dek)}};
}

DekEnvelope envelope_from_json(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) fail(Category::integrity, fmt::format("{} is not a JSON object", what));
  DekEnvelope e;
  if (!j.contains("group") || !j["group"].is_string() || !j.contains("key_version") ||
      !j["key_version"].is_number_integer() || j["key_version"].get<std::int64_t>() < 1)
    fail(Category::integrity, fmt::format("{} names no group and key version: the file was "
                                          "changed", what));
  e.group = j["group"].get<std::string>();
  e.key_version = j["key_version"].get<std::int64_t>();
  e.dek_id = member_bytes(j, "dek_id", what, true);
  e.ephemeral_public_key = member_bytes(j, "ephemeral_public_key", what, false);
  e.wrapped_dek = member_bytes(j, "wrapped_dek", what, false);
  if (e.dek_id.size() != kDekIdSize || e.wrapped_dek.size() != kWrappedDekSize)
    fail(Category::integrity, fmt::format("{} has a DEK id or wrapped DEK of the wrong length: "
                                          "the file was changed", what));
  if (!j.contains("context") || !j["context"].is_object())
    fail(Category::integrity, fmt::format("{} has no context object: the file was changed", what));
  for (const auto& [k, v] : j["context"].items()) {
    if (!v.is_string())
      fail(Category::integrity, fmt::format("{} has a context value that is not a string", what));
    e.context[k] = v.get<std::string>();
  }
  return e;
}

}  // namespace hsm::crypto
