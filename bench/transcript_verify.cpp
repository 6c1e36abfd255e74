// `transcript verify` throughput (on every core, wall time) against the bare crypto it cannot
// avoid (SHA-256 of each canonical body, one ECDSA P-256 verification) in a one-thread loop,
// both measured in this run on the same entries, 1 000 000 of them. Also per CPU second, which
// a busy shared machine disturbs less. Prints a per-stage breakdown of the verifier (one thread)
// for whoever has to make it faster.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "bench/bench.h"
#include "bench/transcript_fixture.h"
#include "core/crypto/public_key.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/verify.h"

namespace {

using hsm::Bytes;
using hsm::bench::note;
using hsm::bench::SignedTranscript;
using hsm::bench::Stopwatch;

// The minimum work: digest fetched once, key loaded once, one verify context reused.
class BareVerifier {
 public:
  explicit BareVerifier(const Bytes& spki)
      : key_(hsm::crypto::load_spki(spki)),
        sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
        ctx_(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr)) {
    if (sha256_ == nullptr || ctx_ == nullptr || EVP_PKEY_verify_init(ctx_.get()) != 1)
      throw std::runtime_error("cannot set up the bare P-256 verifier");
  }

  // SHA-256 of the body must equal the recorded hash; the signature is over SHA-256(hash).
  bool verify(std::string_view body, hsm::ByteView hash, hsm::ByteView der_signature) const {
    unsigned char h[32], d[32];
    if (EVP_Digest(body.data(), body.size(), h, nullptr, sha256_.get(), nullptr) != 1 ||
        std::memcmp(h, hash.data(), 32) != 0)
      return false;
    return EVP_Digest(h, 32, d, nullptr, sha256_.get(), nullptr) == 1 && ecdsa_only(d, der_signature);
  }
  bool ecdsa_only(const unsigned char* digest, hsm::ByteView der_signature) const {
    return EVP_PKEY_verify(ctx_.get(), der_signature.data(), der_signature.size(), digest, 32) == 1;
  }

 private:
  struct Free {
    void operator()(EVP_MD* md) const { EVP_MD_free(md); }
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
  };
  hsm::crypto::Pkey key_;
  std::unique_ptr<EVP_MD, Free> sha256_;
  std::unique_ptr<EVP_PKEY_CTX, Free> ctx_;
};

// CPU seconds of the whole process (every thread) so far.
double process_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Entries per second of wall time, and per CPU second of all threads.
struct Speed {
  double wall = 0, cpu = 0;
};

Speed measure_verifier(const SignedTranscript& t, unsigned threads = 0) {
  hsm::transcript::VerifyOptions options;
  options.threads = threads;
  const double cpu = process_cpu();
  const Stopwatch clock;
  const auto report = hsm::transcript::verify_transcript(t.content, options);
  const double wall = clock.wall_seconds(), used = process_cpu() - cpu;
  if (!report.ok || report.entries != t.entries())
    throw std::runtime_error("verify_transcript rejected the benchmark transcript: " + report.reason);
  return {static_cast<double>(report.entries) / wall, static_cast<double>(report.entries) / used};
}

Speed measure_bare(const SignedTranscript& t, const BareVerifier& bare) {
  std::size_t good = 0;
  const Stopwatch clock;
  for (std::size_t i = 0; i < t.entries(); ++i)
    good += bare.verify(t.body(i), t.hash(i), t.der_signature(i)) ? 1 : 0;
  const double wall = clock.wall_seconds(), cpu = clock.seconds();
  if (good != t.entries()) throw std::runtime_error("the bare loop rejected an entry");
  return {static_cast<double>(good) / wall, static_cast<double>(good) / cpu};
}

// The bare loop on `threads` threads at once, each over its share of the entries with its own
// verifier: what this many cores give right now on this machine (neighbours, shared caches,
// the hypervisor), which is the verifier's real ceiling.
double measure_bare_on(const SignedTranscript& t, unsigned threads) {
  std::vector<std::size_t> good(threads, 0);
  const Stopwatch clock;
  std::vector<std::thread> loops;
  for (unsigned w = 0; w < threads; ++w)
    loops.emplace_back([&, w] {
      const BareVerifier own(t.spki);
      for (std::size_t i = w; i < t.entries(); i += threads)
        good[w] += own.verify(t.body(i), t.hash(i), t.der_signature(i)) ? 1 : 0;
    });
  for (std::thread& l : loops) l.join();
  const double wall = clock.wall_seconds();
  std::size_t all = 0;
  for (const std::size_t g : good) all += g;
  if (all != t.entries()) throw std::runtime_error("a bare loop rejected an entry");
  return static_cast<double>(all) / wall;
}

// Where the stages' results go, so that the compiler cannot drop the work.
volatile std::size_t stage_results = 0;

// Microseconds per entry of one stage of the verifier, run over `n` entries.
double stage_us(std::size_t n, const std::function<std::size_t(std::size_t)>& stage) {
  std::size_t sink = 0;
  const Stopwatch clock;
  for (std::size_t i = 0; i < n; ++i) sink += stage(i);
  const double us = clock.seconds() * 1e6 / static_cast<double>(n);
  stage_results = sink;
  return us;
}

void print_breakdown(const SignedTranscript& t, const BareVerifier& bare, std::size_t n) {
  namespace tr = hsm::transcript;
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; lines.size() < n;) {
    const std::size_t nl = t.content.find('\n', pos);
    lines.push_back(std::string_view(t.content).substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::vector<nlohmann::json> parsed(n);
  std::vector<tr::Entry> entries(n);
  for (std::size_t i = 0; i < n; ++i) {
    parsed[i] = tr::parse_canonical_line(lines[i]);
    entries[i] = tr::entry_from_json(parsed[i]);
  }
  const auto key = hsm::crypto::load_spki(t.spki);
  std::vector<std::array<unsigned char, 32>> digests(n);  // what ECDSA signs: SHA-256(hash)
  for (std::size_t i = 0; i < n; ++i)
    EVP_Digest(t.hash(i).data(), 32, digests[i].data(), nullptr, EVP_sha256(), nullptr);
  std::string all;
  for (std::size_t i = 0; i < n; ++i) all.append(lines[i]).append("\n");
  tr::VerifyOptions one_thread;
  one_thread.threads = 1;
  const double whole = stage_us(1, [&](std::size_t) {
                         return tr::verify_transcript(all, one_thread).entries;
                       }) / static_cast<double>(n);

  struct Row { const char* what; double us; };
  const Row rows[] = {
      {"parse_canonical_line (parse + canonical re-serialization)", stage_us(n, [&](std::size_t i) {
         return tr::parse_canonical_line(lines[i]).size(); })},
      {"  json::parse with a do-nothing callback", stage_us(n, [&](std::size_t i) {
         return nlohmann::json::parse(lines[i].begin(), lines[i].end(),
             [&](int, nlohmann::json::parse_event_t, nlohmann::json&) { return true; }).size(); })},
      {"  json::parse, no callback", stage_us(n, [&](std::size_t i) {
         return nlohmann::json::parse(lines[i].begin(), lines[i].end()).size(); })},
      {"  canonical_json(parsed line)", stage_us(n, [&](std::size_t i) {
         return tr::canonical_json(parsed[i]).size(); })},
      {"entry_from_json", stage_us(n, [&](std::size_t i) {
         return tr::entry_from_json(parsed[i]).seq + 1; })},
      {"body_hash (body_json + canonical_json + SHA-256 + hex; the verifier hashes the "
       "line's own bytes instead)", stage_us(n, [&](std::size_t i) {
         return tr::body_hash(entries[i]).size(); })},
      {"signature (from_base64 + from_hex + verify_ecdsa_sha256; the verifier keeps its "
       "contexts)", stage_us(n, [&](std::size_t i) {
         return static_cast<std::size_t>(hsm::crypto::verify_ecdsa_sha256(
             key.get(), hsm::from_hex(entries[i].hash), hsm::from_base64(entries[i].sig))); })},
      {"bare: SHA-256 body + SHA-256 hash + EVP_PKEY_verify", stage_us(n, [&](std::size_t i) {
         return static_cast<std::size_t>(bare.verify(t.body(i), t.hash(i), t.der_signature(i))); })},
      {"  EVP_PKEY_verify alone (ECDSA P-256)", stage_us(n, [&](std::size_t i) {
         return static_cast<std::size_t>(bare.ecdsa_only(digests[i].data(), t.der_signature(i))); })},
  };
  const double bare_us = rows[std::size(rows) - 2].us;
  note("breakdown over the first %zu entries (us/entry; indented rows are parts of the row above)", n);
  note("  %-58s %8.2f", "verify_transcript on one thread, whole", whole);
  for (const Row& r : rows) note("  %-58s %8.2f  (%4.1f%% of whole)", r.what, r.us, 100 * r.us / whole);
  note("beyond the bare crypto: %.2f us/entry, %.0f%% of the verifier's time", whole - bare_us,
       100 * (whole - bare_us) / whole);
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--entries");
  const auto entries = static_cast<std::size_t>(flags.size ? flags.size : flags.quick ? 5000 : 1000000);
  try {
    const Stopwatch setup;
    const SignedTranscript t = hsm::bench::make_signed_transcript(entries);
    note("transcript: %zu entries, %zu bytes (%.0f bytes/line), made in %.1f s", entries,
         t.content.size(), static_cast<double>(t.content.size()) / static_cast<double>(entries),
         setup.wall_seconds());
    const BareVerifier bare(t.spki);
    // Warm up both paths (lazy provider loading, caches) before timing.
    for (std::size_t i = 0; i < std::min<std::size_t>(entries, 200); ++i)
      bare.verify(t.body(i), t.hash(i), t.der_signature(i));
    hsm::transcript::verify_transcript(t.content.substr(0, t.content.find('\n') + 1), {});
    // Alternate the two and keep the best of each: a shared machine slows whichever runs while
    // a neighbour is busy, and the least disturbed round is the closest to the real cost.
    const int rounds = flags.quick ? 1 : flags.rounds;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const unsigned threads = std::min(cores, hsm::transcript::kMaxVerifyThreads);
    Speed verifier, baseline;
    double parallel_bare = 0;
    for (int round = 0; round < rounds; ++round) {
      const Speed v = measure_verifier(t), b = measure_bare(t, bare);
      const double pb = measure_bare_on(t, threads);
      note("round %d: verify_transcript %.0f entries/s (%.0f per CPU second), bare %.0f entries/s "
           "(%.0f per CPU second), wall ratio %.3f; %u bare loops at once %.0f entries/s (%.3f x "
           "one)", round + 1, v.wall, v.cpu, b.wall, b.cpu, v.wall / b.wall, threads, pb, pb / b.wall);
      verifier = {std::max(verifier.wall, v.wall), std::max(verifier.cpu, v.cpu)};
      baseline = {std::max(baseline.wall, b.wall), std::max(baseline.cpu, b.cpu)};
      parallel_bare = std::max(parallel_bare, pb);
    }
    note("%u bare loops at once: %.0f entries/s, %.3f x one loop: the most %u cores gave in this "
         "run; verify_transcript reached %.3f of that", threads, parallel_bare,
         parallel_bare / baseline.wall, threads, verifier.wall / parallel_bare);
    note("verify_transcript %.0f entries/s on %u threads, bare SHA-256 + ECDSA P-256 %.0f "
         "entries/s on one (wall time, best of %d rounds)", verifier.wall, threads, baseline.wall,
         rounds);
    note("per CPU second: verify_transcript %.0f entries, bare %.0f (ratio %.3f; times %u "
         "threads: %.3f, the wall ratio if each thread ran as fast as one alone)", verifier.cpu,
         baseline.cpu, verifier.cpu / baseline.cpu, threads, threads * verifier.cpu / baseline.cpu);
    hsm::bench::report("transcript_verify", verifier.wall, baseline.wall, ">=1.6", "entries/s");
    hsm::bench::report("transcript_verify_cpu", verifier.cpu, baseline.cpu, "-", "entries/cpu_s");
    hsm::bench::report("transcript_verify_vs_parallel_bare", verifier.wall, parallel_bare, "-",
                       "entries/s");
    print_breakdown(t, bare, std::min<std::size_t>(entries, 5000));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
