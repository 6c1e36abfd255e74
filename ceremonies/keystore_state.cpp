// Checking keystore rows against the transcript's state records, and re-stating the state after
// a ceremony that died mid-change.
#include "ceremonies/keystore_state.h"

#include <fmt/format.h>

#include <set>

#include "core/error.h"
#include "core/keystore/keystore.h"

namespace hsm {

void require_recorded_row(Workspace& ws, transcript::Transcript& t, const std::string& row_key,
                          const std::string& what) {
  if (!keystore::Keystore::state_upkeep_on()) return;  // a benchmark's hsmctl_nostate
  const auto trusted = t.latest_state();
  if (!trusted) return;
  keystore::Keystore& ks = ws.keystore();
  if (ks.row_in_state(row_key, trusted->root)) return;
  // The derived tables alone may be damaged (edited, or a crash): when the rows themselves
  // still make the recorded root, rebuild the tables from them.
  if (ks.computed_root() == trusted->root) {
    ks.rebuild_state();
    ks.expect_state(trusted->root);
    if (ks.row_in_state(row_key, trusted->root)) return;
  }
  const std::string now = ks.row_digest(row_key);
  const auto last = t.last_row_digest(row_key);
  if (!last && !now.empty())
    fail(Category::integrity, fmt::format("{} is in the keystore, but the transcript never "
                                          "recorded it: the keystore was edited; run 'hsmctl "
                                          "doctor'", what));
  if (last && last->second.empty() && !now.empty())
    fail(Category::integrity, fmt::format("{} is in the keystore, but the transcript recorded it "
                                          "deleted (seq {}): the row was put back; run 'hsmctl "
                                          "doctor'", what, last->first));
  if (last && last->second != now)
    fail(Category::integrity, fmt::format("{} in the keystore is not what the transcript recorded "
                                          "last (seq {}): the row was edited or restored from an "
                                          "older copy; run 'hsmctl doctor'", what, last->first));
  fail(Category::integrity, fmt::format("{} is as recorded, but the keystore does not match the "
                                        "state the transcript recorded last (seq {}): another row "
                                        "was edited or restored; run 'hsmctl doctor'", what,
                                        trusted->seq));
}

std::optional<nlohmann::json> state_after_interrupted(Workspace& ws, transcript::Transcript& t,
                                                      std::uint64_t begin_seq) {
  if (!keystore::Keystore::state_upkeep_on()) return std::nullopt;
  if (!ws.has_keystore()) return std::nullopt;
  const auto recorded = t.latest_state();
  if (!recorded) return std::nullopt;
  keystore::Keystore& ks = ws.keystore();
  const std::string actual = ks.computed_root();
  if (actual == recorded->root) return std::nullopt;
  // The states that ceremony could have left: the one before it, or one it recorded (a
  // ceremony that commits in chunks stops between two of them). With no state recorded before
  // it, the keystore was taken as it was (as for a workspace older than these records), and
  // is again.
  const auto before = t.state_before(begin_seq);
  const transcript::StatesSince since = t.states_since(begin_seq);
  if (before && before->root != actual && !since.roots.contains(actual)) return std::nullopt;
  ks.rebuild_state();
  ks.expect_state(actual);
  nlohmann::json rows = nlohmann::json::object();
  for (const std::string& key : since.rows) rows[key] = ks.row_digest(key);
  nlohmann::json state{{"root", actual}};
  if (!rows.empty()) state["rows"] = std::move(rows);
  return state;
}

}  // namespace hsm
