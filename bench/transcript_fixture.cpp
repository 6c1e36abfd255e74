// Builds the benchmark transcript with hsmctl's own Entry/body_hash/to_line and signs it as
// tests/support/forge.cpp does: ECDSA P-256 over SHA-256 of the 32 raw hash bytes, stored r||s.
#include "bench/transcript_fixture.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/crypto/public_key.h"
#include "core/transcript/entry.h"

namespace hsm::bench {

namespace {

using nlohmann::json;
using transcript::Entry;

// Ceremonies are this many entries long: begin, notes and key events, end.
constexpr std::size_t kCeremonyLength = 8;

std::string time_at(std::uint64_t seq) {
  const std::time_t t = 1795028400 + static_cast<std::time_t>(seq) * 7;  // 2026-11-20, on
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hex_of(std::uint64_t seed, std::size_t bytes) {
  const Bytes b = crypto::sha256(as_bytes("bench " + std::to_string(seed)));
  return to_hex(ByteView(b.data(), std::min<std::size_t>(bytes, b.size())));
}

std::string uuid_of(std::uint64_t n) {
  const std::string h = hex_of(n, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" +
         h.substr(17, 3) + "-" + h.substr(20, 12);
}

const char* const kActors[] = {"alice", "bob", "carol", "dave"};

json data_for(std::size_t step, std::uint64_t seq) {
  const std::string who = kActors[seq % 4];
  switch (step) {
    case 0:
      return {{"what", "user provision"},
              {"params", {{"kdf_profile", "moderate"}, {"chunk", 64}, {"users_file", "users.csv"}}},
              {"tool", "hsmctl 0.1.0"},
              {"token", "ceremony-a"},
              {"token_serial", "5f1c2a7e0b9d4c31"},
              {"module", "/usr/lib/softhsm/libsofthsm2.so"}};
    case 1:
    case 4:
      return {{"witness", who},
              {"note", "Seal TEB-" + std::to_string(40000 + seq % 9973) +
                           " checked intact; room camera recording; custodians present: alice, "
                           "bob, carol."}};
    case 2:
    case 5:
      return {{"label", "user-" + std::to_string(seq)},
              {"key_id", hex_of(seq, 16)},
              {"kcv", hex_of(seq + 1, 3)},
              {"fingerprint", hex_of(seq + 2, 32)}};
    case 3:
    case 6:
      return {{"users", json::array({"u" + std::to_string(seq), "u" + std::to_string(seq + 1)})},
              {"fingerprints", json::array({hex_of(seq + 3, 8), hex_of(seq + 4, 8)})},
              {"count", 2}};
    default:
      return {{"outcome", "success"}, {"entries", static_cast<std::uint64_t>(kCeremonyLength)}};
  }
}

const char* event_for(std::size_t step) {
  switch (step) {
    case 0: return "ceremony.begin";
    case 1: case 4: return "witness.note";
    case 2: case 5: return "key.generate";
    case 3: case 6: return "user.provision";
    default: return "ceremony.end";
  }
}

class SoftwareKey {
 public:
  SoftwareKey() : key_(EVP_EC_gen("P-256")) {
    if (key_ == nullptr) throw std::runtime_error("EVP_EC_gen(P-256) failed");
  }
  ~SoftwareKey() { EVP_PKEY_free(key_); }
  SoftwareKey(const SoftwareKey&) = delete;
  SoftwareKey& operator=(const SoftwareKey&) = delete;
  Bytes spki() const { return crypto::spki_der(key_); }
  // DER ECDSA signature over SHA-256(message).
  Bytes sign(ByteView message) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    Bytes der;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size()) == 1) {
      der.resize(len);
      if (EVP_DigestSign(ctx, der.data(), &len, message.data(), message.size()) != 1) len = 0;
    }
    EVP_MD_CTX_free(ctx);
    if (len == 0) throw std::runtime_error("EVP_DigestSign failed");
    der.resize(len);
    return der;
  }

 private:
  EVP_PKEY* key_;
};

std::string round_trip_through_temp_file(const std::string& content) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  std::string path = (dir / "hsmctl-bench-transcript-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("cannot create a temp file in " + dir.string());
  ::close(fd);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) throw std::runtime_error("cannot write " + path);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream read;
  read << in.rdbuf();
  std::filesystem::remove(path);
  return std::move(read).str();
}

}  // namespace

SignedTranscript make_signed_transcript(std::size_t entries) {
  const SoftwareKey key;
  SignedTranscript t;
  t.spki = key.spki();
  t.bodies.reserve(entries * 450);
  t.body_ends.reserve(entries);
  t.hashes.reserve(entries * 32);
  t.der_signatures.reserve(entries * 72);
  t.der_ends.reserve(entries);
  std::string content;
  content.reserve(entries * 520);
  std::string prev = transcript::kZeroHash;
  // In blocks: the entries (a hash does not cover its signature, so the chain needs none),
  // then their signatures on every core, then the lines.
  constexpr std::size_t kBlock = 4096;
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::vector<Entry> block;
  std::vector<Bytes> ders;
  for (std::size_t first = 0; first < entries; first += kBlock) {
    const std::size_t n = std::min(kBlock, entries - first);
    block.assign(n, Entry{});
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = first + j;
      Entry& e = block[j];
      e.seq = i;
      e.time = time_at(i);
      e.actor = kActors[(i / kCeremonyLength) % 4];
      e.prev = prev;
      if (i == 0) {
        e.ceremony = uuid_of(0);
        e.event = "transcript.open";
        e.data = {{"alg", std::string(transcript::kAlgorithm)},
                  {"public_key", to_base64(t.spki)},
                  {"key_id", hex_of(0, 16)},
                  {"fingerprint", crypto::fingerprint(t.spki)},
                  {"kind", "provisional"},
                  {"token", "ceremony-a"}};
      } else {
        const std::size_t step = (i - 1) % kCeremonyLength;
        e.ceremony = uuid_of(1 + (i - 1) / kCeremonyLength);
        e.event = event_for(step);
        e.data = data_for(step, i);
      }
      t.bodies += transcript::canonical_body(e);
      t.body_ends.push_back(t.bodies.size());
      e.hash = transcript::body_hash(e);
      const Bytes hash = from_hex(e.hash);
      t.hashes.insert(t.hashes.end(), hash.begin(), hash.end());
      prev = e.hash;
    }
    ders.assign(n, Bytes{});
    std::vector<std::thread> signers;
    for (unsigned w = 0; w < threads; ++w)
      signers.emplace_back([&, w] {
        try {
          for (std::size_t j = w; j < n; j += threads)
            ders[j] = key.sign(ByteView(t.hashes).subspan(32 * (first + j), 32));
        } catch (const std::exception&) {  // an empty signature says so below
        }
      });
    for (std::thread& s : signers) s.join();
    for (std::size_t j = 0; j < n; ++j) {
      if (ders[j].empty()) throw std::runtime_error("a fixture signature failed");
      t.der_signatures.insert(t.der_signatures.end(), ders[j].begin(), ders[j].end());
      t.der_ends.push_back(t.der_signatures.size());
      block[j].sig = to_base64(crypto::ecdsa_der_to_raw(ders[j], 32));
      content += transcript::to_line(block[j]);
      content += '\n';
    }
  }
  t.content = round_trip_through_temp_file(content);
  if (t.content != content) throw std::runtime_error("the temp file did not read back intact");
  return t;
}

}  // namespace hsm::bench
