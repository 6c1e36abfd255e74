// Helpers for the X509* tests: software keys behind the x509::Signer interface (one per
// algorithm and slot), a scratch directory, the stock openssl command line, and running a call
// to get its hsm::Error. Tests only.
#pragma once

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/x509/certificate.h"
#include "core/x509/pem.h"
#include "core/x509/signer.h"
#include "support/process.h"
#include "tests/x509/rsa_keys.h"

namespace hsm::x509::testing {

inline const KeyAlgorithm kAllAlgorithms[] = {KeyAlgorithm::ec_p256, KeyAlgorithm::ec_p384,
                                              KeyAlgorithm::rsa_3072, KeyAlgorithm::rsa_4096,
                                              KeyAlgorithm::ed25519};

inline EVP_PKEY* private_key_pem(const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

// The software key of `algorithm` in `slot`, made on first use and kept for the process:
// EC and Ed25519 freshly generated, RSA slots 0 and 1 fixed (rsa_keys.h), others generated.
inline EVP_PKEY* software_key(KeyAlgorithm algorithm, int slot = 0) {
  static std::map<std::pair<KeyAlgorithm, int>, crypto::Pkey> keys;
  crypto::Pkey& key = keys[{algorithm, slot}];
  if (key) return key.get();
  const bool fixed = slot == 0 || slot == 1;
  switch (algorithm) {
    case KeyAlgorithm::ec_p256: key.reset(EVP_EC_gen("P-256")); break;
    case KeyAlgorithm::ec_p384: key.reset(EVP_EC_gen("P-384")); break;
    case KeyAlgorithm::rsa_3072:
      key.reset(fixed ? private_key_pem(slot == 0 ? kRsa3072Slot0 : kRsa3072Slot1)
                      : EVP_RSA_gen(3072));
      break;
    case KeyAlgorithm::rsa_4096:
      key.reset(fixed ? private_key_pem(slot == 0 ? kRsa4096Slot0 : kRsa4096Slot1)
                      : EVP_RSA_gen(4096));
      break;
    case KeyAlgorithm::ed25519: key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); break;
  }
  if (!key) ADD_FAILURE() << "no software key for " << key_algorithm_name(algorithm);
  return key.get();
}

// What the token does in hsmctl, done by OpenSSL with a software key; counts its signatures.
class SoftwareSigner : public Signer {
 public:
  explicit SoftwareSigner(KeyAlgorithm algorithm, int slot = 0)
      : algorithm_(algorithm), key_(software_key(algorithm, slot)) {}

  KeyAlgorithm algorithm() const override { return algorithm_; }
  Bytes public_key() const override { return crypto::spki_der(key_); }
  Bytes sign(ByteView tbs) override {
    ++signatures;
    const EVP_MD* md = algorithm_ == KeyAlgorithm::ec_p384   ? EVP_sha384()
                       : algorithm_ == KeyAlgorithm::ed25519 ? nullptr
                                                             : EVP_sha256();
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = EVP_DigestSignInit(ctx, &pctx, md, nullptr, key_) == 1;
    if (ok && (algorithm_ == KeyAlgorithm::rsa_3072 || algorithm_ == KeyAlgorithm::rsa_4096))
      ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
    size_t length = 0;
    ok = ok && EVP_DigestSign(ctx, nullptr, &length, tbs.data(), tbs.size()) == 1;
    Bytes out(length);
    ok = ok && EVP_DigestSign(ctx, out.data(), &length, tbs.data(), tbs.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) ADD_FAILURE() << "software signing failed";
    out.resize(length);
    return out;
  }

  int signatures = 0;

 private:
  KeyAlgorithm algorithm_;
  EVP_PKEY* key_;
};

// A fresh directory under $TMPDIR, removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hsmctl-x509-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Writes `bytes` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }
  std::string write(const std::string& name, const Bytes& bytes) const {
    return write(name, std::string(bytes.begin(), bytes.end()));
  }
  std::string pem(const std::string& name, PemKind kind, const Bytes& der) const {
    return write(name, to_pem(kind, der));
  }

 private:
  std::filesystem::path path_;
};

// The openssl program on $PATH (run_program execs a path, not a name).
inline std::string openssl_program() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::filesystem::path candidate =
        std::filesystem::path(dirs.substr(start, end - start)) / "openssl";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  ADD_FAILURE() << "openssl is not on PATH";
  return "openssl";
}

// Runs the stock openssl command line.
inline hsm::test::RunResult openssl(std::vector<std::string> args) {
  static const std::string program = openssl_program();
  args.insert(args.begin(), program);
  return hsm::test::run_program(args);
}

// A 20-byte serial as the token RNG would give it.
inline Bytes random_serial() {
  Bytes serial(20);
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1)
    ADD_FAILURE() << "RAND_bytes";
  return serial;
}

inline CertificateTerms terms(Profile profile, int days = 365,
                              std::optional<int> path_length = std::nullopt) {
  return CertificateTerms{random_serial(), days, profile, path_length};
}

// The hsm::Error `call` throws; fails the test when it throws nothing or something else.
inline std::optional<Error> error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an hsm::Error: " << e.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "no error";
  return std::nullopt;
}

}  // namespace hsm::x509::testing
