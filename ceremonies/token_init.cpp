// token init: validate, read both PINs (new secrets: typed twice at a prompt), initialise.
#include "ceremonies/token_init.h"

#include <fmt/format.h>

#include "core/error.h"

namespace hsm {

void TokenInitOptions::validate() const {
  if (label.empty()) fail(Category::usage, "--label must not be empty");
  if (label.size() > 32)
    fail(Category::usage, fmt::format("token label '{}' is longer than 32 bytes", label));
}

p11::TokenInfo init_token(Workspace& ws, const TokenInitOptions& options) {
  options.validate();
  p11::Module& module = ws.module();
  const Secret so_pin = read_new_secret(options.so_pin_source, "SO PIN");
  const Secret user_pin = read_new_secret(ws.options().pin_source, "user PIN");
  return p11::init_token(module, options.label, so_pin, user_pin);
}

}  // namespace hsm
