// The token initialisation ceremony: a new token on a free slot, with SO and user PINs.
#pragma once

#include <string>

#include "ceremonies/workspace.h"

namespace hsm {

struct TokenInitOptions {
  std::string label;
  SecretSource so_pin_source;
  // Throws Error(usage) for an empty or over-long label.
  void validate() const;
};

p11::TokenInfo init_token(Workspace& ws, const TokenInitOptions& options);

}  // namespace hsm
