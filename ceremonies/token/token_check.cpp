// token check, and the refusal token init and master init make with it.
#include "ceremonies/token/token_check.h"

#include <fmt/format.h>

#include "core/error.h"

namespace hsm {

TokenCheckResult check_token(Workspace& ws, const std::string& slot) {
  TokenCheckResult r;
  if (slot.empty()) {
    r.token = ws.token();
    r.mode = "operations";
    r.capabilities = p11::probe_operations(ws.login());
    return r;
  }
  p11::Module& module = ws.module();
  r.token = p11::slot_named(module, slot);
  if (r.token.initialized && r.token.user_pin_initialized) {
    WorkspaceOptions on_slot = ws.options();
    on_slot.module_path = module.path();
    on_slot.token = fmt::format("pkcs11:slot-id={}", r.token.slot_id);
    Workspace there(on_slot);
    r.mode = "operations";
    r.capabilities = p11::probe_operations(there.login());
    return r;
  }
  r.mode = "mechanism-list";
  r.capabilities = p11::probe_mechanism_list(module, r.token.slot_id);
  return r;
}

void require_capable_token(Workspace& ws, const std::string& what, const std::string& state) {
  if (ws.token_capable()) return;
  const auto missing =
      p11::missing_required(p11::probe_operations(ws.login(), /*required_only=*/true));
  if (!missing.empty()) {
    const p11::TokenInfo& t = ws.token();
    fail(Category::token,
         fmt::format("{}: token '{}' (slot {}) cannot keep hsmctl's custody contract: it lacks "
                     "{}; {}; 'hsmctl token check' lists what it can do",
                     what, t.label, t.slot_id, p11::describe_missing(missing), state));
  }
  ws.set_token_capable();
}

}  // namespace hsm
