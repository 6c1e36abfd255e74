// What the Merkle tree beside the transcript costs: an append that keeps DIR/tlog/ up to date
// against the same append without it (Transcript with TreeUpkeep::off_for_benchmarks, in a
// second workspace, rounds alternating), and inclusion proofs in a 1 000 000-entry log against
// the 5 ms they must stay under, with the hashes each proof reads.
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "bench/bench.h"
#include "core/crypto/public_key.h"
#include "core/tlog/merkle.h"
#include "core/tlog/tree_store.h"
#include "core/transcript/appender.h"

namespace {

namespace fs = std::filesystem;
using hsm::Bytes;
using hsm::ByteView;
using hsm::bench::note;
using hsm::bench::Stopwatch;

// The transcript key as a software P-256 key (a token's signature costs more, which would only
// make the tree's share look smaller).
class SoftwareSigner : public hsm::transcript::Signer {
 public:
  SoftwareSigner() : key_(EVP_EC_gen("P-256")) {
    if (key_ == nullptr) throw std::runtime_error("EVP_EC_gen(P-256) failed");
    spki_ = hsm::crypto::spki_der(key_);
  }
  ~SoftwareSigner() override { EVP_PKEY_free(key_); }
  SoftwareSigner(const SoftwareSigner&) = delete;
  SoftwareSigner& operator=(const SoftwareSigner&) = delete;
  Bytes sign(ByteView hash32) override {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    Bytes der(80);
    const bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
                    EVP_DigestSign(ctx, nullptr, &len, hash32.data(), hash32.size()) == 1 &&
                    len <= der.size() &&
                    EVP_DigestSign(ctx, der.data(), &len, hash32.data(), hash32.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("EVP_DigestSign failed");
    der.resize(len);
    return hsm::crypto::ecdsa_der_to_raw(der, 32);
  }
  const Bytes& public_key() const override { return spki_; }

 private:
  EVP_PKEY* key_;
  Bytes spki_;
};

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const char* what) {
    std::string t =
        (fs::temp_directory_path() / ("hsmctl-bench-" + std::string(what) + "-XXXXXX")).string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("cannot make a temp directory");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

nlohmann::json note_data(std::uint64_t i) {
  return {{"witness", "alice"},
          {"note", "Seal TEB-" + std::to_string(40000 + i % 9973) +
                       " checked intact; room camera recording; custodians present: alice, bob."}};
}

// One workspace's transcript, appended to by one process as a ceremony does.
struct Log {
  TempDir dir{"append"};
  hsm::transcript::Transcript transcript;
  std::uint64_t appended = 0;
  Log(hsm::transcript::TreeUpkeep upkeep, SoftwareSigner& signer)
      : transcript(dir.path() / "transcript.jsonl", upkeep) {
    transcript.append("transcript.open", "alice", "00000000-0000-4000-a000-000000000000",
                      {{"alg", "ecdsa-p256-sha256"},
                       {"public_key", hsm::to_base64(signer.public_key())},
                       {"key_id", "01"},
                       {"fingerprint", hsm::crypto::fingerprint(signer.public_key())},
                       {"kind", "provisional"},
                       {"token", "bench"}},
                      signer);
  }
  // Seconds of wall time and of this thread's CPU for `n` appends.
  std::pair<double, double> append(std::size_t n, SoftwareSigner& signer) {
    const Stopwatch clock;
    for (std::size_t i = 0; i < n; ++i, ++appended)
      transcript.append("witness.note", "alice", "11111111-1111-4111-a111-111111111111",
                        note_data(appended), signer);
    return {clock.wall_seconds(), clock.seconds()};
  }
};

// Rounds of `blocks` blocks of `block` appends, alternating with and without the tree block by
// block: the disk's sync latency on a shared machine drifts by tens of percent within seconds,
// so only closely interleaved totals compare. The best round's totals are reported.
void bench_append(std::size_t block, std::size_t blocks, int rounds) {
  SoftwareSigner signer;
  Log with(hsm::transcript::TreeUpkeep::on, signer);
  Log without(hsm::transcript::TreeUpkeep::off_for_benchmarks, signer);
  with.append(20, signer);  // warm up both (lazy provider loading, the tree's files)
  without.append(20, signer);
  const double n = static_cast<double>(block * blocks);
  double best = 1e99, best_with = 0, best_without = 0, cpu_with = 0, cpu_without = 0;
  for (int round = 0; round < rounds; ++round) {
    double w = 0, o = 0, wc = 0, oc = 0;
    for (std::size_t b = 0; b < blocks; ++b) {
      const auto [w1, wc1] = with.append(block, signer);
      const auto [o1, oc1] = without.append(block, signer);
      w += w1, wc += wc1, o += o1, oc += oc1;
    }
    note("round %d: append with the tree %.1f us, without %.1f us (wall; CPU %.1f / %.1f us), "
         "ratio %.3f (CPU %.3f)", round + 1, 1e6 * w / n, 1e6 * o / n, 1e6 * wc / n, 1e6 * oc / n,
         w / o, wc / oc);
    if (w / o < best) {
      best = w / o;
      best_with = w, best_without = o, cpu_with = wc, cpu_without = oc;
    }
  }
  note("append (lock, catch up, sign, write, fdatasync): with the tree %.1f us, without %.1f us "
       "wall, best of %d rounds of %zu x %zu alternating; CPU %.1f / %.1f us (ratio %.3f)",
       1e6 * best_with / n, 1e6 * best_without / n, rounds, blocks, block, 1e6 * cpu_with / n,
       1e6 * cpu_without / n, cpu_with / cpu_without);
  hsm::bench::report("tlog_append_with_tree_vs_without", 1e6 * best_with / n,
                     1e6 * best_without / n, "<=1.1", "us");
  hsm::bench::report("tlog_append_cpu_with_tree_vs_without", 1e6 * cpu_with / n,
                     1e6 * cpu_without / n, "-", "us");
}

// Forwards to a store and counts what proofs read from it.
class CountingSource : public hsm::tlog::HashSource {
 public:
  explicit CountingSource(hsm::tlog::HashSource& inner) : inner_(inner) {}
  std::uint64_t size() const override { return inner_.size(); }
  void read(unsigned height, std::uint64_t index, std::span<hsm::tlog::Hash> out) override {
    ++reads;
    hashes += out.size();
    inner_.read(height, index, out);
  }
  std::uint64_t reads = 0, hashes = 0;

 private:
  hsm::tlog::HashSource& inner_;
};

void bench_inclusion(std::uint64_t entries, std::size_t proofs) {
  namespace tlog = hsm::tlog;
  const TempDir dir("proof");
  const fs::path file = dir.path() / "transcript.jsonl";
  {  // entries as lines; the store hashes lines and never parses them
    std::string all;
    all.reserve(entries * 110);
    for (std::uint64_t i = 0; i < entries; ++i)
      all += "{\"seq\":" + std::to_string(i) + ",\"note\":\"" +
             note_data(i)["note"].get<std::string>() + "\"}\n";
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, all.data(), all.size()) != static_cast<ssize_t>(all.size()) ||
        ::close(fd) != 0)
      throw std::runtime_error("cannot write the benchmark log");
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  const auto file_size = fs::file_size(file);
  {
    const Stopwatch clock;
    tlog::TreeStore build(file);
    build.catch_up(fd, file_size);
    note("tree index of %llu entries built by TreeStore::catch_up in %.1f s wall (%.1f s CPU)",
         static_cast<unsigned long long>(entries), clock.wall_seconds(), clock.seconds());
  }
  tlog::TreeStore store(file);  // a fresh one, as a command opens it
  store.catch_up(fd, file_size);
  ::close(fd);
  const tlog::Hash root = tlog::tree_root(store, entries);
  std::mt19937_64 random(26);
  std::vector<std::uint64_t> index(proofs);
  for (auto& i : index) i = random() % entries;
  index.back() = entries - 1;  // the right edge, where subtrees are not complete
  double worst = 0;
  const Stopwatch clock;
  for (const std::uint64_t i : index) {
    const Stopwatch one;
    const auto proof = tlog::inclusion_proof(store, i, entries);
    worst = std::max(worst, one.wall_seconds());
    if (proof.empty()) throw std::runtime_error("empty proof");
  }
  const double ms = 1e3 * clock.wall_seconds() / static_cast<double>(proofs);
  CountingSource counting(store);
  std::uint64_t most = 0, all_hashes = 0;
  for (const std::uint64_t i : index) {
    const std::uint64_t before = counting.hashes;
    const auto proof = tlog::inclusion_proof(counting, i, entries);
    most = std::max(most, counting.hashes - before);
    all_hashes += counting.hashes - before;
    tlog::Hash leaf{};
    store.read(0, i, std::span<tlog::Hash>(&leaf, 1));
    if (!tlog::verify_inclusion(i, entries, leaf, proof, root))
      throw std::runtime_error("an inclusion proof does not verify");
  }
  note("inclusion proof in a %llu-entry log: %.4f ms mean, %.4f ms worst (wall, %zu random "
       "entries and the last, page cache warm); hashes read per proof: %.1f mean, %llu most "
       "(log2 n = %d); every proof verified against the root",
       static_cast<unsigned long long>(entries), ms, 1e3 * worst, proofs,
       static_cast<double>(all_hashes) / static_cast<double>(proofs),
       static_cast<unsigned long long>(most), static_cast<int>(std::bit_width(entries - 1)));
  hsm::bench::report(entries == 1000000 ? "tlog_inclusion_proof_1m" : "tlog_inclusion_proof", ms,
                     5.0, "<=1.0", "ms");
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--entries");
  try {
    bench_append(20, flags.quick ? 10 : 50, flags.quick ? 1 : flags.rounds);
    const long entries = flags.size ? flags.size : flags.quick ? 100000 : 1000000;
    bench_inclusion(static_cast<std::uint64_t>(entries), flags.quick ? 200 : 2000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
