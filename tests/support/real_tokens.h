// Real PKCS#11 tokens that lack part of what hsmctl needs, started for one test with all their
// state in a temp directory and stopped when the object dies: tpm2-pkcs11 on a software TPM
// (swtpm), and opencryptoki's soft token behind its slot daemon (pkcsslotd, in a private mount
// namespace because opencryptoki 3.8 hardcodes /etc/opencryptoki, /var/lib/opencryptoki and
// /run). Never touches the machine's own token state.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/live_process.h"
#include "support/process.h"

namespace hsm::test {

// What a test needs to reach one started token.
struct RealToken {
  std::string name;    // "tpm2-pkcs11" or "opencryptoki"
  std::string module;  // the PKCS#11 module to load
  unsigned long slot = 0;  // slot id of its (uninitialised) token
  std::string so_pin;  // the SO PIN C_InitToken must be given ("" if any is accepted at first init)
  std::map<std::string, std::string> env;  // environment the module needs
  std::vector<std::string> prefix;         // argv prefix to run a program where the token is seen
  std::chrono::milliseconds startup{0};    // how long starting it took

  // Runs argv[0] (an absolute path) with `prefix`, `env` and `extra` (extra wins).
  RunResult run(std::vector<std::string> argv,
                const std::map<std::string, std::string>& extra = {}) const;
  // pkcs11-tool on this token's module (no --module needed in `args`).
  RunResult tool(const std::vector<std::string>& args) const;
  // The token's state as stock pkcs11-tool sees it: the slot and token (--list-token-slots) and,
  // with `pin`, the objects a logged-in user sees (--list-objects). Two equal snapshots mean the
  // token was left exactly as it was.
  std::string snapshot(const std::string& pin = {}) const;
};

// swtpm (TPM 2.0, TCP socket, startup-clear) with tpm2-pkcs11 pointed at it directly through
// the swtpm TCTI; its sqlite store in the same temp directory.
class Tpm2Token {
 public:
  explicit Tpm2Token(const std::filesystem::path& dir);
  ~Tpm2Token();
  Tpm2Token(const Tpm2Token&) = delete;
  Tpm2Token& operator=(const Tpm2Token&) = delete;
  // Empty when it runs; otherwise why it could not start. `unavailable()`: the machine cannot
  // run it at all (package missing, not root), a reason to skip rather than fail.
  const std::string& failure() const { return failure_; }
  bool unavailable() const { return unavailable_; }
  const RealToken& token() const { return token_; }

 private:
  std::unique_ptr<LiveProcess> swtpm_;
  RealToken token_;
  std::string failure_;
  bool unavailable_ = false;
};

// opencryptoki's pkcsslotd with one slot (0), the soft token, its configuration, data, lock and
// socket directories bind-mounted from `dir` in a mount namespace of its own; programs reach it
// through `nsenter` into that namespace. Needs root (CI runs as root).
class OpencryptokiToken {
 public:
  explicit OpencryptokiToken(const std::filesystem::path& dir);
  ~OpencryptokiToken();
  OpencryptokiToken(const OpencryptokiToken&) = delete;
  OpencryptokiToken& operator=(const OpencryptokiToken&) = delete;
  const std::string& failure() const { return failure_; }
  bool unavailable() const { return unavailable_; }
  const RealToken& token() const { return token_; }

  static constexpr const char* kFactorySoPin = "87654321";  // opencryptoki's documented default

 private:
  std::unique_ptr<LiveProcess> slotd_;
  RealToken token_;
  std::string failure_;
  bool unavailable_ = false;
};

}  // namespace hsm::test
