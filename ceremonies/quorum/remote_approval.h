// The host side of a remote approval: a share intake (ceremonies/master/shares.h) whose shares
// come from approvals dropped into a directory instead of from the keyboard. When the operation
// starts gathering, it writes DIR/request.json (with a one-use X25519 key made then), records
// quorum.requested, and then polls DIR for *.approval every 0.5 s until the quorum is met, the
// request expires or a signal arrives. The private key lives only in this object's Secret and
// dies with it: approvals are useless once the operation is over. Never writes a share anywhere.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceremonies/master/shares.h"
#include "ceremonies/quorum/quorum_request.h"
#include "core/crypto/approval_seal.h"

namespace hsm::quorum {

struct RemoteOptions {
  std::filesystem::path dir;           // where request.json goes and approvals arrive
  std::chrono::seconds lifetime{1800};  // --expires
  nlohmann::json operation;            // command, words, description, parameters, args
  nlohmann::json workspace;            // dir, token identity, master_kcv
  int master_set_identifier = 0;       // the workspace's current share set
  std::function<void(const std::string&)> say;  // progress, one line each (stderr)
};

class RemoteApproval {
 public:
  explicit RemoteApproval(RemoteOptions options);
  RemoteApproval(const RemoteApproval&) = delete;
  RemoteApproval& operator=(const RemoteApproval&) = delete;

  // The intake the operation uses in place of the terminal's.
  ShareIntake intake();
  bool requested() const noexcept { return request_.has_value(); }
  bool expired() const noexcept { return expired_; }
  std::string expires_text() const;
  // Refusals that point at forgery or corruption (an approval that does not open, a share
  // that fails its commitment), as "file: reason".
  const std::vector<std::string>& integrity_refusals() const noexcept { return forged_; }
  // Wipes the private key: from now on no approval can be opened.
  void forget_key() noexcept;

 private:
  void write_request(const keystore::ShareSet& set);
  Secret next_share();
  // One approval file: its share, or nothing (the refusal is told and recorded).
  std::optional<Secret> consider(const std::filesystem::path& file);
  void refuse(const std::string& file, const std::string& custodian, const std::string& reason,
              bool integrity);
  void on_share(bool accepted, const std::string& what);
  std::string progress() const;

  RemoteOptions o_;
  std::optional<Request> request_;
  keystore::ShareSet set_;
  std::optional<crypto::X25519KeyPair> key_;
  std::time_t expires_ = 0;
  bool expired_ = false;
  // Files looked at: (size, mtime) when handled; a file is handled once it has stayed the same
  // between two polls (a copy still being written is not read half-way).
  std::map<std::string, std::pair<off_t, std::int64_t>> seen_, settling_;
  std::set<std::string> ephemeral_keys_;  // of approvals opened: a copy is a replay
  std::map<std::string, int> accepted_;   // custodian -> group index
  std::string pending_custodian_, pending_file_;
  std::vector<std::string> forged_;
};

}  // namespace hsm::quorum
