// Listing the signatures of one key, user or group since a checkpoint, from the workspace log.
#include "ceremonies/transcript/monitor_ops.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ceremonies/transcript/checkpoint_ops.h"
#include "core/error.h"
#include "core/tlog/log_check.h"
#include "core/tlog/tree_store.h"
#include "core/transcript/appender.h"

namespace hsm {

namespace {

bool matches(const MonitorQuery& q, const SignatureEvent& s) {
  if (!q.key.empty()) return !s.key.empty() && s.key == q.key;
  if (!q.group.empty()) return s.event == "group.signed" && s.group == q.group;
  return !s.user.empty() && s.user == q.user;
}

// The size the log must extend: the since checkpoint's, after checking it is this log's.
std::uint64_t checked_since(const MonitorQuery& q, tlog::TreeStore& tree) {
  if (!q.since) return 0;
  const tlog::Note note = tlog::parse_note(*q.since);
  const tlog::Checkpoint c = tlog::parse_checkpoint(note.text);
  if (!q.log_keys.empty()) {
    tlog::CheckpointPolicy policy;
    policy.log_keys = q.log_keys;
    tlog::check_checkpoint(note.format(), policy);
  }
  const std::string origin = log_origin(q.configured_origin, tree);
  if (c.origin != origin)
    fail(Category::integrity, fmt::format("the --since checkpoint is of the log '{}', not of this "
                                          "workspace's '{}'", c.origin, origin));
  if (c.size > tree.size())
    fail(Category::integrity, fmt::format("the log has {} entries, fewer than the --since "
                                          "checkpoint's {}: it was truncated", tree.size(), c.size));
  if (tlog::tree_root(tree, c.size) != c.root)
    fail(Category::integrity, fmt::format("the log's first {} entries do not have the --since "
                                          "checkpoint's root: the log was rewritten (a fork)",
                                          c.size));
  return c.size;
}

}  // namespace

MonitorReport monitor_signatures(const std::filesystem::path& transcript, const MonitorQuery& q) {
  const int given = !q.key.empty() + !q.user.empty() + !q.group.empty();
  if (given != 1) fail(Category::usage, "say whose signatures to list: --key, --user or --group");
  transcript::Transcript t(transcript);
  tlog::TreeStore& tree = t.tree();
  MonitorReport r;
  r.since = checked_since(q, tree);
  r.through = tree.size();
  if (const auto kept = load_checkpoint(transcript))
    r.checkpoint = tlog::parse_checkpoint(kept->text).size;
  if (r.since >= r.through) return r;
  std::ifstream in(transcript, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(tree.entry_range(r.since).first));
  std::string line;
  for (std::uint64_t seq = r.since; seq < r.through && std::getline(in, line); ++seq) {
    // Cheap filter first: most entries name no signature event at all.
    if (line.find("\"event\":\"sign.") == std::string::npos &&
        line.find("\"event\":\"user.signed\"") == std::string::npos &&
        line.find("\"event\":\"group.signed\"") == std::string::npos)
      continue;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail(Category::integrity, fmt::format("entry {} of '{}' is not JSON; check the log with "
                                            "'hsmctl transcript verify'", seq, transcript.string()));
    }
    const auto sig = signature_event(entry);
    if (!sig || !matches(q, *sig)) continue;
    r.found.push_back({seq, entry.value("time", std::string()),
                       entry.value("actor", std::string()), *sig});
  }
  return r;
}

}  // namespace hsm
