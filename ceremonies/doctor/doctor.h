// hsmctl doctor: is the workspace consistent with itself and with its token? The keystore
// (SQLite integrity, foreign keys), the transcript (chain, signatures, a torn last line,
// a ceremony.begin that nothing closes, failures waiting in transcript.pending.jsonl) and the token (master keys and their KCV,
// every escrowed signing key present, no token object for a quorum key, no orphan hsmctl
// object). Reads only: it never repairs, and never needs a secret beyond the PIN.
#pragma once

#include <string>
#include <vector>

#include "ceremonies/workspace.h"

namespace hsm {

struct DoctorFinding {
  std::string check;   // "keystore", "transcript", "master", "key:<label>", "object:<label>"
  std::string status;  // "ok", "note" (worth knowing, not wrong) or "problem"
  std::string detail;
};

struct DoctorOptions {
  bool token = true;  // false: workspace files only (an auditor without the token)
};

std::vector<DoctorFinding> doctor(Workspace& ws, const DoctorOptions& options);

}  // namespace hsm
