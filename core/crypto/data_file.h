// The hsmctl data file (hsmctl-data(5)): magic and version, a length-prefixed canonical-JSON
// header holding the wrapped DEK (dek_envelope.h), then the plaintext in chunks of chunk_size
// bytes, each AES-256-GCM with nonce 0^4 || u64be index and AAD SHA-256(header bytes) || u64be
// index || u8 final (a STREAM construction: a changed header, a truncated file, reordered or
// swapped chunks all fail to authenticate). The last chunk is the only one shorter than
// chunk_size (it may be empty) and the only one with the final flag. Public data only here,
// except ChunkSealer, which holds a DEK given to it and never returns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/crypto/dek_envelope.h"
#include "core/secure/secret.h"

namespace hsm::crypto {

inline constexpr char kDataMagic[] = "HSMCTLD";  // 7 bytes, then the version byte
inline constexpr std::uint8_t kDataVersion = 1;
inline constexpr const char* kDataFormat = "hsmctl-data-v1";
inline constexpr std::size_t kDataPrefixSize = 12;  // magic, version, u32be header length
inline constexpr std::size_t kMaxDataHeader = 64 * 1024;
inline constexpr std::size_t kDataChunkSize = 1024 * 1024;
inline constexpr std::size_t kChunkTagSize = 16;

struct DataHeader {
  DekEnvelope envelope;
  std::size_t chunk_size = kDataChunkSize;
  Bytes bytes;   // everything from the magic to the end of the JSON, as in the file
  Bytes digest;  // SHA-256(bytes): the first part of every chunk's AAD
};

// The header for `envelope` (format, chunk_size and the envelope's members in canonical JSON).
DataHeader make_data_header(const DekEnvelope& envelope, std::size_t chunk_size = kDataChunkSize);
// Reads and checks the header at the start of `in`: Error(integrity) naming `what` when the
// magic, version, length or JSON is not an hsmctl data file's.
DataHeader read_data_header(std::istream& in, const std::string& what);
// True when `prefix` starts with the magic (a data file rather than a DEK envelope).
bool is_data_file(ByteView prefix);

Bytes chunk_nonce(std::uint64_t index);
Bytes chunk_aad(ByteView header_digest, std::uint64_t index, bool final);

// AES-256-GCM encryption of chunks on the host under one DEK (copied into the sealer).
class ChunkSealer {
 public:
  explicit ChunkSealer(const Secret& dek);
  ~ChunkSealer();
  ChunkSealer(const ChunkSealer&) = delete;
  ChunkSealer& operator=(const ChunkSealer&) = delete;
  // ciphertext || tag of chunk `index` into `out` (resized).
  void seal(ByteView header_digest, std::uint64_t index, bool final, ByteView plaintext,
            Bytes& out);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Reads up to `n` bytes from `in` into `buf` (resized to what was read).
void read_up_to(std::istream& in, std::size_t n, Bytes& buf);

}  // namespace hsm::crypto
