// 'transcript monitor': every signature made with one key, by one user or with one group's
// key since a checkpoint the key's owner kept, after checking that the log as it is now
// extends that checkpoint (a truncated or rewritten log is refused, not listed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ceremonies/transcript/signature_events.h"
#include "core/tlog/note.h"

namespace hsm {

struct MonitorQuery {
  std::string key, user, group;  // exactly one is set
  std::optional<std::string> since;  // a checkpoint note (cosignatures may follow); none: entry 0
  std::vector<tlog::VerifierKey> log_keys;  // when given, the since checkpoint must verify
  std::string configured_origin;            // log_origin of hsmctl.toml, if set
};

struct MonitoredSignature {
  std::uint64_t seq = 0;
  std::string time, actor;
  SignatureEvent signature;
};

struct MonitorReport {
  std::uint64_t since = 0;    // the first entry looked at
  std::uint64_t through = 0;  // entries in the log now (the last looked at is through - 1)
  std::optional<std::uint64_t> checkpoint;  // the size of the latest checkpoint kept, if any
  std::vector<MonitoredSignature> found;
};

// Error(usage) unless exactly one of key, user, group is set; Error(integrity) when `since`
// is not this log's, is not signed by one of `log_keys` (when given), or the log does not
// extend it.
MonitorReport monitor_signatures(const std::filesystem::path& transcript, const MonitorQuery& q);

}  // namespace hsm
