// The data file's header, the chunks' nonces and AAD, and host-side chunk encryption.
#include "core/crypto/data_file.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/canonical_json.h"

namespace hsm::crypto {

namespace {

void put_u64be(Bytes& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

[[noreturn]] void not_data(const std::string& what, const std::string& why) {
  fail(Category::integrity, fmt::format("{} is not an hsmctl data file ({}): it was changed or "
                                        "is another file", what, why));
}

}  // namespace

DataHeader make_data_header(const DekEnvelope& envelope, std::size_t chunk_size) {
  nlohmann::json j = envelope_json(envelope);
  j["format"] = kDataFormat;
  j["chunk_size"] = chunk_size;
  const std::string text = transcript::canonical_json(j);
  DataHeader h{envelope, chunk_size, {}, {}};
  h.bytes.assign(kDataMagic, kDataMagic + 7);
  h.bytes.push_back(kDataVersion);
  const auto n = static_cast<std::uint32_t>(text.size());
  for (int shift = 24; shift >= 0; shift -= 8) h.bytes.push_back(static_cast<std::uint8_t>(n >> shift));
  h.bytes.insert(h.bytes.end(), text.begin(), text.end());
  h.digest = sha256(h.bytes);
  return h;
}

bool is_data_file(ByteView prefix) {
  return prefix.size() >= 7 && std::memcmp(prefix.data(), kDataMagic, 7) == 0;
}

DataHeader read_data_header(std::istream& in, const std::string& what) {
  Bytes prefix;
  read_up_to(in, kDataPrefixSize, prefix);
  if (prefix.size() < kDataPrefixSize || !is_data_file(prefix)) not_data(what, "no magic");
  if (prefix[7] != kDataVersion)
    fail(Category::integrity, fmt::format("{} is an hsmctl data file of version {}, which this "
                                          "hsmctl cannot read", what, prefix[7]));
  std::size_t n = 0;
  for (std::size_t i = 8; i < 12; ++i) n = (n << 8) | prefix[i];
  if (n == 0 || n > kMaxDataHeader) not_data(what, fmt::format("header of {} bytes", n));
  Bytes text;
  read_up_to(in, n, text);
  if (text.size() != n) not_data(what, "the header is cut short");
  nlohmann::json j;
  try {
    j = transcript::parse_canonical_line(
        std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  } catch (const Error&) {
    not_data(what, "the header is not canonical JSON");
  }
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != kDataFormat)
    not_data(what, fmt::format("format is not {}", kDataFormat));
  if (!j.contains("chunk_size") || !j["chunk_size"].is_number_unsigned() ||
      j["chunk_size"].get<std::uint64_t>() < 1 ||
      j["chunk_size"].get<std::uint64_t>() > 16 * kDataChunkSize)
    not_data(what, "chunk_size is not 1 byte to 16 MiB");
  DataHeader h;
  h.envelope = envelope_from_json(j, what);
  h.chunk_size = j["chunk_size"].get<std::size_t>();
  h.bytes = std::move(prefix);
  h.bytes.insert(h.bytes.end(), text.begin(), text.end());
  h.digest = sha256(h.bytes);
  return h;
}

Bytes chunk_nonce(std::uint64_t index) {
  Bytes out(4, 0);
  put_u64be(out, index);
  return out;
}

Bytes chunk_aad(ByteView header_digest, std::uint64_t index, bool final) {
  Bytes out(header_digest.begin(), header_digest.end());
  put_u64be(out, index);
  out.push_back(final ? 1 : 0);
  return out;
}

struct ChunkSealer::Ctx {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  ~Ctx() { EVP_CIPHER_CTX_free(c); }  // clears the key schedule
};

ChunkSealer::ChunkSealer(const Secret& dek) : ctx_(std::make_unique<Ctx>()) {
  if (dek.size() != kDekSize || ctx_->c == nullptr ||
      EVP_EncryptInit_ex(ctx_->c, EVP_aes_256_gcm(), nullptr, dek.data(), nullptr) != 1)
    fail(Category::general, "OpenSSL cannot start AES-256-GCM");
}

ChunkSealer::~ChunkSealer() = default;

void ChunkSealer::seal(ByteView header_digest, std::uint64_t index, bool final,
                       ByteView plaintext, Bytes& out) {
  const Bytes nonce = chunk_nonce(index);
  const Bytes aad = chunk_aad(header_digest, index, final);
  out.resize(plaintext.size() + kChunkTagSize);
  int len = 0, fin = 0, aad_len = 0;
  EVP_CIPHER_CTX* c = ctx_->c;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      EVP_EncryptUpdate(c, nullptr, &aad_len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(c, out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(c, out.data() + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kChunkTagSize,
                          out.data() + plaintext.size()) != 1)
    fail(Category::general, "OpenSSL AES-256-GCM encryption failed");
}

void read_up_to(std::istream& in, std::size_t n, Bytes& buf) {
  buf.resize(n);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (in.bad()) fail(Category::general, "cannot read the input file");
  buf.resize(got);
}

}  // namespace hsm::crypto
