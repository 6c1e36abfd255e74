// doctor's check of the keystore against the transcript: every state row (user, group, key,
// master) must be what the transcript recorded last for it, and the rows together must make
// the last state root recorded (docs/design.md, "Keystore integrity").
#pragma once

#include <string>
#include <vector>

#include "ceremonies/doctor/doctor.h"
#include "core/keystore/keystore.h"

namespace hsm {

// Appends one finding per row that does not match (check "state:<row key>"), or one "ok".
// `transcript` is the workspace transcript's content, already verified.
void keystore_state_checks(keystore::Keystore& ks, const std::string& transcript,
                           std::vector<DoctorFinding>& out);

}  // namespace hsm
