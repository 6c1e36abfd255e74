// token init: validate, read both PINs (new secrets: typed twice at a prompt), initialise.
#include "ceremonies/token/token_init.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
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
  Secret pin_for_record = Secret::copy_of(user_pin.bytes());
  const p11::TokenInfo t = p11::init_token(module, options.label, so_pin, user_pin);

  // Record it in the workspace transcript, signed by a key on the new token.
  WorkspaceOptions on_new = ws.options();
  on_new.token = "pkcs11:serial=" + t.serial;
  Workspace created(on_new);
  created.use_pin(std::move(pin_for_record));
  run_ceremony(created, "token.init", {{"label", t.label}}, [&](Recorder& rec) {
    rec.record("token.init", {{"label", t.label},
                              {"serial", t.serial},
                              {"manufacturer", t.manufacturer},
                              {"model", t.model}});
  });
  return t;
}

}  // namespace hsm
