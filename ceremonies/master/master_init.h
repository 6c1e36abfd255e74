// master init: the master secret S is made (token RNG XOR OS RNG), split into SLIP-0039 custodian
// shares, and never stored; the token receives MK-wrap and MK-derive derived from it, and the
// workspace's escrowed transcript key. Everything is validated before the token is touched.
#pragma once

#include "ceremonies/master/share_delivery.h"
#include "ceremonies/master/share_groups.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/workspace.h"
#include "core/pkcs11/templates.h"
#include "core/secure/secret.h"

namespace hsm {

// Shows one custodian their share (the terminal implementation lives in cmd/).
class CustodianConsole {
 public:
  virtual ~CustodianConsole() = default;
  virtual void show_share(const std::string& custodian, int index, int count,
                          const Secret& mnemonic) = 0;
};

// The share set a ceremony hands out (master init, master reshare): who gets a share, how many
// are needed, and how each is delivered.
struct ShareSetPlan {
  int threshold = 0;
  std::vector<std::string> custodians;
  bool allow_single_custodian = false;
  ShareDelivery delivery;  // files, cards, OpenPGP messages or the terminal
  // A two-level set instead (SLIP-0039 groups): `group_threshold` of `groups` are needed; then
  // threshold and custodians stay empty.
  std::vector<ShareGroupSpec> groups;
  int group_threshold = 0;
  // Every custodian, in share order (the groups' in turn for a two-level set).
  std::vector<std::string> all_custodians() const;
  // Error(usage) for M > N, M < 1, M = 1 without allow_single_custodian, N > 16, duplicate or
  // malformed names; what ShareDelivery::validate refuses.
  void validate() const;
};

struct MasterInitOptions : ShareSetPlan {
  // How keys are derived from MK-derive; unset: AES-ECB-ENCRYPT-DATA where the token has it,
  // else the HMAC-SHA256 fallback (docs/design.md, "Which tokens can keep the contract").
  std::optional<p11::KekDerivation> kek_derivation = std::nullopt;
};

struct MasterInitResult {
  std::string kcv;
  int identifier = 0;
  int threshold = 0;
  std::vector<std::pair<std::string, std::string>> commitments;  // custodian, commitment
  std::uint64_t seq = 0;  // transcript seq of master.init
  // How each custodian received their share: "terminal", "file", "card" or {"openpgp": FPR},
  // and the file written for them, if any.
  nlohmann::json delivery = nlohmann::json::object();
  std::map<std::string, std::filesystem::path> share_files;
  // A two-level set's groups [{name, threshold, custodians}]; empty for a single-level set.
  nlohmann::json groups = nlohmann::json::array();
  std::filesystem::path commitments_file;  // the public commitments file written (see commitments.h)
  std::string commitments_sha256;
  std::string kek_derivation;  // "aes-ecb" or "hmac-sha256"
};

MasterInitResult master_init(Workspace& ws, const MasterInitOptions& options,
                             CustodianConsole* console);

// The share set's parameters as master.init and master.reshare record them: threshold and
// custodians, or group_threshold and groups [{name, threshold, custodians}].
nlohmann::json set_params(const ShareSetPlan& o);

// A valid custodian name: 1-32 of [A-Za-z0-9._-], not starting with '.' or '-'.
bool valid_custodian_name(const std::string& name);

}  // namespace hsm
