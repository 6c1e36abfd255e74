// Clone: a whole new token from a live one in one recorded ceremony — the master keys derived
// again from a quorum of shares and imported on the new token, then every escrow blob of the
// workspace installed there (master restore + backup restore, without a file in between).
#pragma once

#include <string>
#include <vector>

#include "ceremonies/master/shares.h"
#include "ceremonies/workspace.h"

namespace hsm {

struct CloneResult {
  std::string kcv;
  std::vector<std::string> restored;
};

// `from` and `to` share the workspace directory; `to` may use another module. Refuses a target
// that already holds a master key (exit 7) and a source whose master is not the workspace's.
// On any failure nothing is left on the target token.
CloneResult clone_token(Workspace& from, Workspace& to, ShareIntake intake);

}  // namespace hsm
