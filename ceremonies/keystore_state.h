// The keystore checked against what the transcript recorded of it (docs/design.md, "Keystore
// integrity"): before a ceremony acts on a user, group, key or the master record, the row must
// be the one the transcript's latest state root holds. A row edited or restored from an older
// copy by someone who can write the file but has no PIN is refused (exit 4) rather than used.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ceremonies/workspace.h"
#include "core/transcript/appender.h"

namespace hsm {

// Error(integrity), naming `what` ("user 'bob'") and what does not match, unless state row
// `row_key` ("user/bob") is as the transcript recorded it last. A workspace whose transcript
// records no state yet (made by an hsmctl before this check) passes; its next ceremony
// records one. Call before the ceremony changes anything in the keystore.
void require_recorded_row(Workspace& ws, transcript::Transcript& t, const std::string& row_key,
                          const std::string& what);

// After a ceremony that died between recording a change and committing it (the transcript
// then records a state the keystore never reached): the state to record with
// ceremony.interrupted when the keystore is exactly as it was before that ceremony, so that
// the transcript follows the keystore again; nullopt when there is nothing to say, or when
// the keystore matches neither state (then the uses refuse, and doctor names the rows).
std::optional<nlohmann::json> state_after_interrupted(Workspace& ws, transcript::Transcript& t,
                                                      std::uint64_t begin_seq);

}  // namespace hsm
