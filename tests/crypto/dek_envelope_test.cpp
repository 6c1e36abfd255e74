// The DEK wrapping and the data file header as hsmctl-data(5) describes them: with the group's
// private key in hand (here a host key standing in for the token's), the KEK recomputed from the
// page (ECDH x-coordinate, AES-256-ECB of the SHA-256 of the length-prefixed fields) unwraps the
// DEK with a plain RFC 3394 unwrap; any changed field gives another KEK. The header reads back
// what was written, and a reader refuses what is not canonical or not the format.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <sstream>

#include "core/crypto/data_file.h"
#include "core/crypto/dek_envelope.h"
#include "core/crypto/public_key.h"
#include "core/error.h"

namespace hsm::crypto {
namespace {

Bytes be(std::uint64_t v, int n) {
  Bytes out;
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return out;
}

void lp(Bytes& out, ByteView x) {
  const Bytes n = be(x.size(), 4);
  out.insert(out.end(), n.begin(), n.end());
  out.insert(out.end(), x.begin(), x.end());
}

// Follows hsmctl-data(5), "The wrapped DEK", step by step; returns the unwrapped DEK or empty.
Bytes unwrap_as_documented(EVP_PKEY* group_key, const DekEnvelope& e, const std::string& ctx_json) {
  const Pkey eph = load_spki(e.ephemeral_public_key);
  EVP_PKEY_CTX* dc = EVP_PKEY_CTX_new(group_key, nullptr);
  Bytes z(32);
  std::size_t zlen = z.size();
  EXPECT_EQ(EVP_PKEY_derive_init(dc), 1);
  EXPECT_EQ(EVP_PKEY_derive_set_peer(dc, eph.get()), 1);
  EXPECT_EQ(EVP_PKEY_derive(dc, z.data(), &zlen), 1);
  EVP_PKEY_CTX_free(dc);
  Bytes d = to_bytes("hsmctl v1 dek");
  lp(d, as_bytes(e.group));
  lp(d, be(static_cast<std::uint64_t>(e.key_version), 8));
  lp(d, e.dek_id);
  lp(d, as_bytes(ctx_json));
  lp(d, e.ephemeral_public_key);
  lp(d, spki_der(group_key));
  const Bytes data = sha256(d);
  Bytes kek(48);
  int len = 0;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), nullptr, z.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(c, 0);
  EVP_EncryptUpdate(c, kek.data(), &len, data.data(), 32);
  EVP_CIPHER_CTX_free(c);
  Bytes dek(48);
  int n = 0, fin = 0;
  c = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  EVP_DecryptInit_ex(c, EVP_aes_256_wrap(), nullptr, kek.data(), nullptr);
  const bool ok = EVP_DecryptUpdate(c, dek.data(), &n, e.wrapped_dek.data(),
                                    static_cast<int>(e.wrapped_dek.size())) == 1 &&
                  EVP_DecryptFinal_ex(c, dek.data() + n, &fin) == 1 && n + fin > 0;
  EVP_CIPHER_CTX_free(c);
  if (!ok) return {};
  dek.resize(static_cast<std::size_t>(n + fin));
  return dek;
}

TEST(DekEnvelope, TheDocumentedDerivationUnwrapsTheDekAndAnyChangedFieldDoesNot) {
  const Pkey group(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  DekContext ctx;
  add_context_pair(ctx, "table=salaries");
  add_context_pair(ctx, "row=17");
  const NewDek d = new_wrapped_dek("payroll", 3, spki_der(group.get()), ctx);
  EXPECT_EQ(d.envelope.wrapped_dek.size(), kWrappedDekSize);
  const std::string ctx_json = R"({"row":"17","table":"salaries"})";
  const Bytes dek = unwrap_as_documented(group.get(), d.envelope, ctx_json);
  ASSERT_EQ(dek.size(), kDekSize);
  EXPECT_TRUE(std::equal(dek.begin(), dek.end(), d.dek.bytes().begin()));

  DekEnvelope other = d.envelope;
  other.key_version = 2;
  EXPECT_TRUE(unwrap_as_documented(group.get(), other, ctx_json).empty());
  other = d.envelope;
  other.group = "payrolls";
  EXPECT_TRUE(unwrap_as_documented(group.get(), other, ctx_json).empty());
  other = d.envelope;
  other.dek_id[0] ^= 1;
  EXPECT_TRUE(unwrap_as_documented(group.get(), other, ctx_json).empty());
  EXPECT_TRUE(unwrap_as_documented(group.get(), d.envelope, R"({"row":"18","table":"salaries"})")
                  .empty());
}

TEST(DekEnvelope, ContextPairsAreCheckedBeforeUse) {
  DekContext ctx;
  for (const std::string bad : {"novalue", "=v", "a b=c", "k=tab\there"})
    EXPECT_THROW(add_context_pair(ctx, bad), Error) << bad;
  add_context_pair(ctx, "k=v=w");
  EXPECT_EQ(ctx.at("k"), "v=w");
  EXPECT_THROW(add_context_pair(ctx, "k=x"), Error);  // repeated key
}

TEST(DataFile, TheHeaderReadsBackAndAnythingElseIsRefused) {
  const Pkey group(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const NewDek d = new_wrapped_dek("payroll", 1, spki_der(group.get()), {});
  const DataHeader h = make_data_header(d.envelope);
  std::istringstream in(std::string(h.bytes.begin(), h.bytes.end()) + "chunks");
  const DataHeader back = read_data_header(in, "test");
  EXPECT_EQ(back.bytes, h.bytes);
  EXPECT_EQ(back.digest, h.digest);
  EXPECT_EQ(back.chunk_size, kDataChunkSize);
  EXPECT_EQ(back.envelope.wrapped_dek, d.envelope.wrapped_dek);
  EXPECT_EQ(chunk_nonce(258), (Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(chunk_aad(Bytes(32, 7), 1, true).size(), 41u);

  const std::string good(h.bytes.begin(), h.bytes.end());
  auto refused = [](std::string s) {
    std::istringstream i(s);
    try {
      read_data_header(i, "test");
    } catch (const Error& e) {
      return e.category() == Category::integrity;
    }
    return false;
  };
  std::string s = good;
  s[0] = 'X';  // magic
  EXPECT_TRUE(refused(s));
  s = good;
  s[7] = 2;  // version
  EXPECT_TRUE(refused(s));
  s = good;
  s.insert(13, " ");  // not canonical (and the length no longer matches)
  EXPECT_TRUE(refused(s));
  EXPECT_TRUE(refused(good.substr(0, good.size() - 1)));  // cut short
}

}  // namespace
}  // namespace hsm::crypto
