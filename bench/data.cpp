// Group data keys (issue 30): `hsmctl data encrypt` of a 1 GiB file (on the host, no token)
// against a bare OpenSSL EVP AES-256-GCM loop over the same 1 MiB chunks, and `hsmctl data
// decrypt` (the token decrypts every chunk, one C_Decrypt each) against the same bare loop
// decrypting; then the per-object overhead of a 1 KiB object (one whole hsmctl process each way:
// start-up, keystore and transcript checks, and for decryption login, Argon2id at --kdf-profile
// min and the layers). The file is generated in a temp dir, streamed; the bare loops read and
// write files too, 1 MiB at a time, and fsync their output as hsmctl does, so both sides pay
// the same I/O; every step starts after a sync, so none pays for another's writeback. hsmctl and the loop
// alternate, several rounds; figures are medians, as throughput on the wall clock and per CPU
// second (the hsmctl child's user+system time; the loop thread's CPU time). Targets (issue 30):
// encryption >= 0.8x, in-token decryption >= 0.3x the bare loop.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/bench_workspace.h"

namespace {

namespace fs = std::filesystem;
using hsm::bench::children_cpu;
using hsm::bench::median;
using hsm::bench::note;
using hsm::bench::run;

constexpr std::size_t kChunk = 1024 * 1024;
const char* kPin = "bench-pin-1234";

struct Timing {
  double wall = 0, cpu = 0;
};

// Before each measured step: the previous step's dirty pages written back, untimed, so no step
// pays for another's writes.
void settle() { ::sync(); }

// One hsmctl command (through the shell, output discarded): its wall and CPU time.
Timing timed_command(const std::string& cmd) {
  settle();
  const double cpu0 = children_cpu();
  const hsm::bench::Stopwatch clock;
  run(cmd + " >/dev/null");
  return {clock.wall_seconds(), children_cpu() - cpu0};
}

void write_random_file(const fs::path& path, std::uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::vector<std::uint64_t> buf(kChunk / 8);
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (std::uint64_t done = 0; done < bytes; done += kChunk) {
    for (auto& w : buf) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    out.write(reinterpret_cast<const char*>(buf.data()),
              static_cast<std::streamsize>(std::min<std::uint64_t>(kChunk, bytes - done)));
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// The bare loop: AES-256-GCM of `in` in 1 MiB chunks (a fresh nonce and 41 bytes of AAD per
// chunk, as hsmctl-data(5)) into `out`; with `decrypt`, the reverse, checking every tag.
Timing bare_loop(const fs::path& in_path, const fs::path& out_path, bool decrypt) {
  settle();
  const hsm::bench::Stopwatch clock;
  std::ifstream in(in_path, std::ios::binary);
  std::ofstream out(out_path, std::ios::binary);
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  unsigned char key[32] = {7}, nonce[12] = {0}, aad[41] = {1}, tag[16];
  const std::size_t record = decrypt ? kChunk + 16 : kChunk;
  std::vector<unsigned char> buf(record), res(record);
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nullptr, decrypt ? 0 : 1) != 1)
    throw std::runtime_error("EVP init");
  for (std::uint64_t index = 0;; ++index) {
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(record));
    const auto n = static_cast<std::size_t>(in.gcount());
    const bool final = n < record;
    for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
    aad[40] = final ? 1 : 0;
    int len = 0, fin = 0;
    const std::size_t body = decrypt ? n - 16 : n;
    if (EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, nullptr, nonce, -1) != 1 ||
        EVP_CipherUpdate(ctx.get(), nullptr, &len, aad, sizeof aad) != 1 ||
        EVP_CipherUpdate(ctx.get(), res.data(), &len, buf.data(), static_cast<int>(body)) != 1)
      throw std::runtime_error("EVP update");
    if (decrypt &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, buf.data() + body) != 1)
      throw std::runtime_error("EVP set tag");
    if (EVP_CipherFinal_ex(ctx.get(), res.data() + len, &fin) != 1)
      throw std::runtime_error("a bare-loop chunk does not authenticate");
    out.write(reinterpret_cast<const char*>(res.data()), len + fin);
    if (!decrypt) {
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag);
      out.write(reinterpret_cast<const char*>(tag), 16);
    }
    if (final) break;
  }
  out.close();
  // Durable as hsmctl's output is (it fsyncs before linking the file into place).
  const int fd = ::open(out_path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) throw std::runtime_error("cannot fsync " + out_path.string());
  ::close(fd);
  return {clock.wall_seconds(), clock.seconds()};
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = hsm::bench::parse_flags(argc, argv, "--mib");
  const long mib = flags.size ? flags.size : flags.quick ? 64 : 1024;
  const int rounds = flags.quick ? 1 : flags.rounds;
  const int objects = flags.quick ? 3 : 10;
  const fs::path dir = fs::temp_directory_path() / ("hsmctl-bench-data-" + std::to_string(::getpid()));
  try {
    const std::string hsmctl = HSMCTL_BINARY;
    hsm::bench::make_workspace(dir, kPin, hsmctl);
    ::setenv("PW", "bench password of alice", 1);
    run(hsmctl + " user create alice --kdf-profile min --password-source env:PW >/dev/null");
    run(hsmctl + " group create payroll --purpose encrypt --members alice >/dev/null");
    const std::uint64_t bytes = static_cast<std::uint64_t>(mib) * kChunk;
    const fs::path plain = dir / "plain.bin", enc = dir / "plain.enc", dec = dir / "plain.dec",
                   bare_enc = dir / "bare.enc", bare_dec = dir / "bare.dec";
    write_random_file(plain, bytes);
    note("%ld MiB in 1 MiB chunks, %d rounds, hsmctl and the bare loop alternating; "
         "load average at start: see uptime", mib, rounds);
    const std::string enc_cmd = hsmctl + " data encrypt --group payroll --in " + plain.string() +
                                " --out " + enc.string();
    const std::string dec_cmd = hsmctl + " data decrypt --as alice --password-source env:PW --in " +
                                enc.string() + " --out " + dec.string();
    std::vector<double> enc_rate, enc_cpu, bare_enc_rate, bare_enc_cpu;
    std::vector<double> dec_rate, dec_cpu, bare_dec_rate, bare_dec_cpu;
    const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0);  // MiB
    for (int r = 0; r < rounds; ++r) {
      fs::remove(enc);
      fs::remove(dec);
      fs::remove(bare_enc);
      fs::remove(bare_dec);
      // Alternate which side goes first.
      Timing he, be, hd, bd;
      if (r % 2 == 0) {
        he = timed_command(enc_cmd);
        be = bare_loop(plain, bare_enc, false);
        hd = timed_command(dec_cmd);
        bd = bare_loop(bare_enc, bare_dec, true);
      } else {
        be = bare_loop(plain, bare_enc, false);
        he = timed_command(enc_cmd);
        bd = bare_loop(bare_enc, bare_dec, true);
        hd = timed_command(dec_cmd);
      }
      if (fs::file_size(dec) != bytes || fs::file_size(bare_dec) != bytes)
        throw std::runtime_error("a decryption did not give the file back");
      enc_rate.push_back(gib / he.wall);
      enc_cpu.push_back(gib / he.cpu);
      bare_enc_rate.push_back(gib / be.wall);
      bare_enc_cpu.push_back(gib / be.cpu);
      dec_rate.push_back(gib / hd.wall);
      dec_cpu.push_back(gib / hd.cpu);
      bare_dec_rate.push_back(gib / bd.wall);
      bare_dec_cpu.push_back(gib / bd.cpu);
      note("round %d: encrypt %.0f MiB/s (bare %.0f), decrypt in token %.0f MiB/s (bare %.0f), "
           "wall; per CPU second %.0f (%.0f) and %.0f (%.0f)", r, enc_rate.back(),
           bare_enc_rate.back(), dec_rate.back(), bare_dec_rate.back(), enc_cpu.back(),
           bare_enc_cpu.back(), dec_cpu.back(), bare_dec_cpu.back());
    }
    hsm::bench::report("data_encrypt_vs_bare_gcm", median(enc_rate), median(bare_enc_rate),
                       ">=0.8", "MiB/s");
    hsm::bench::report("data_encrypt_cpu_vs_bare_gcm", median(enc_cpu), median(bare_enc_cpu),
                       ">=0.8", "MiB/cpu-s");
    hsm::bench::report("data_decrypt_in_token_vs_bare_gcm", median(dec_rate),
                       median(bare_dec_rate), ">=0.3", "MiB/s");
    hsm::bench::report("data_decrypt_in_token_cpu_vs_bare_gcm", median(dec_cpu),
                       median(bare_dec_cpu), ">=0.3", "MiB/cpu-s");

    // Per-object overhead: a 1 KiB object, one hsmctl process each way, against what 1 KiB
    // costs at the bulk rate of the same command measured above.
    const fs::path small = dir / "small.bin";
    write_random_file(small, 1024);
    std::vector<double> enc_ms, dec_ms;
    for (int i = 0; i < objects; ++i) {
      const fs::path e = dir / ("small" + std::to_string(i) + ".enc");
      enc_ms.push_back(1000 * timed_command(hsmctl + " data encrypt --group payroll --in " +
                                            small.string() + " --out " + e.string()).wall);
      dec_ms.push_back(1000 * timed_command(hsmctl + " data decrypt --as alice --password-source "
                                            "env:PW --in " + e.string() + " --out " +
                                            (dir / ("small" + std::to_string(i) + ".dec")).string())
                                  .wall);
    }
    const double kib_ms_enc = 1000.0 / (median(enc_rate) * 1024.0);
    const double kib_ms_dec = 1000.0 / (median(dec_rate) * 1024.0);
    note("1 KiB object: encrypt %.1f ms, decrypt %.1f ms (one process each; decryption includes "
         "login, Argon2id at kdf min, the layers and the transcript entry)", median(enc_ms),
         median(dec_ms));
    hsm::bench::report("data_object_1k_encrypt_vs_bulk", median(enc_ms), kib_ms_enc, "-", "ms");
    hsm::bench::report("data_object_1k_decrypt_vs_bulk", median(dec_ms), kib_ms_dec, "-", "ms");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
