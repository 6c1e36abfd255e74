// The one end-to-end fixture: a throwaway SoftHSM token directory per test, a workspace
// directory, and helpers to run the built hsmctl and stock tools against them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/process.h"

namespace hsm::test {

inline constexpr const char* kPin = "1234-test-pin";
inline constexpr const char* kSoPin = "5678-test-so";

// A temp directory removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// True when the suite runs through p11-kit-proxy (HSMCTL_TEST_PROXY=1): hsmctl then loads
// p11-kit's proxy, configured (in the test's temp dir) to reach this test's SoftHSM only.
bool through_proxy();
// The module hsmctl is given: SoftHSM, or p11-kit-proxy under through_proxy().
std::string test_module();

// A SoftHSM configuration with its own token directory (and, for the proxy pass, a private
// p11-kit configuration that registers SoftHSM alone).
class SoftHsm {
 public:
  explicit SoftHsm(const std::filesystem::path& dir);
  // Initialises a token with softhsm2-util (independent of hsmctl).
  void init_token(const std::string& label, const std::string& so_pin = kSoPin,
                  const std::string& pin = kPin);
  const std::filesystem::path& conf() const { return conf_; }
  // SOFTHSM2_CONF, and for the proxy pass XDG_CONFIG_HOME (p11-kit's user configuration).
  std::map<std::string, std::string> env() const;
  // The slot id hsmctl sees for the token labelled `label` (asked of the module, never assumed).
  unsigned long slot_of(const std::string& label) const;

 private:
  std::filesystem::path conf_;
  std::filesystem::path p11_kit_config_;
};

class HsmTest : public ::testing::Test {
 protected:
  HsmTest();
  // Runs hsmctl with the workspace environment (token "test", PIN from env) plus `extra`.
  RunResult hsmctl(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& extra = {},
                   const std::string& stdin_data = {});
  RunResult openssl(const std::vector<std::string>& args);
  // `master init`, 2 of custodians a, b and c, the share files written to `shares` (made here).
  RunResult master_init(const std::filesystem::path& shares);
  std::map<std::string, std::string> base_env() const;
  std::filesystem::path write_file(const std::string& name, const std::string& content,
                                   unsigned mode = 0600);
  static std::string read_file(const std::filesystem::path& p);

  TempDir tmp_;
  SoftHsm hsm_;
  std::filesystem::path ws_;  // workspace (--dir)
};

// Creates `dir` (and its parents) and makes it private (0700), as a --shares-out directory
// must be.
void make_private_dir(const std::filesystem::path& dir);

// The mechanism-profile shim (tests/profileshim) and a profile shipped in tests/profiles/
// ("tpm2-pkcs11-1.9" -> .../tpm2-pkcs11-1.9.profile).
std::string profile_shim_module();
std::string shipped_profile(const std::string& name);

// Asserts the failure contract: exit code, exactly one "hsmctl: error:" line on stderr that
// contains `needle`.
void expect_failure(const RunResult& r, int code, const std::string& needle);

}  // namespace hsm::test
