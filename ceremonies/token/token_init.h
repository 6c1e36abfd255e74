// The token initialisation ceremony: a new token on a free slot (or the slot --slot chooses),
// with SO and user PINs.
#pragma once

#include <optional>
#include <string>

#include "ceremonies/workspace.h"

namespace hsm {

struct TokenInitOptions {
  std::string label;
  // "" (the first free slot), a decimal slot id, or a pkcs11: URI naming one slot.
  std::string slot;
  SecretSource so_pin_source;  // the SO PIN the token ends with
  // The SO PIN the token has now: a factory SO PIN, or that of a token being re-initialised
  // (asked at a prompt when not given).
  std::optional<SecretSource> current_so_pin_source;
  bool yes = false;  // re-initialising an initialised token needs no typed confirmation
  // Throws Error(usage) for an empty or over-long label, or a --slot that is neither a decimal
  // slot id nor a well-formed pkcs11: URI.
  void validate() const;
};

// A --slot URI's module-path/module-name choose the module (as a --token URI's would): sets
// `o.module_path` to it, or leaves `o` alone when the URI names no module.
void choose_module_for_slot(WorkspaceOptions& o, const std::string& slot);

p11::TokenInfo init_token(Workspace& ws, const TokenInitOptions& options);

}  // namespace hsm
