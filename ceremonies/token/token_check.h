// token check: what the token can do of what hsmctl needs, tried without changing anything on
// it (session objects only), or read off the mechanism list of a slot whose token is not
// initialised. token init and master init run the same check first.
#pragma once

#include <string>
#include <vector>

#include "ceremonies/workspace.h"
#include "core/pkcs11/probe.h"

namespace hsm {

struct TokenCheckResult {
  p11::TokenInfo token;
  // "operations" (tried, logged in) or "mechanism-list" (a token not initialised yet).
  std::string mode;
  std::vector<p11::Capability> capabilities;
  bool usable() const { return p11::missing_required(capabilities).empty(); }
};

// The token --token selects, or, with `slot` (a decimal id or a pkcs11: URI), that slot's.
TokenCheckResult check_token(Workspace& ws, const std::string& slot);

// Error(token) naming what is missing, unless the workspace's token (logged in) can keep the
// custody contract; `what` is the ceremony ("master init") and `state` what the token is like
// meanwhile ("nothing was changed on it"). Checked once per Workspace: a ceremony whose
// recorder checked before making the first transcript key does not check again.
void require_capable_token(Workspace& ws, const std::string& what, const std::string& state);

}  // namespace hsm
