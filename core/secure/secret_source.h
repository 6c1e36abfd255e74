// Where a secret comes from: `prompt` (no echo, /dev/tty), `env:VAR`, `file:PATH` (must belong
// to the effective user and not be readable by group or others), `fd:N`. Every --*-source
// option goes through here; secrets are never accepted as values in argv.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "core/secure/secret.h"

namespace hsm {

struct SecretSource {
  enum class Kind { prompt, env, file, fd };
  Kind kind = Kind::prompt;
  std::string location;  // variable name, path or fd number; empty for prompt

  // Throws Error(usage) for anything that is not one of the four forms.
  static SecretSource parse(std::string_view spec);
  // The spec as given ("env:HSMCTL_PIN"): safe to print, holds no secret.
  std::string describe() const;
};

// Reads one secret (the first line, without its line end). `what` names it in prompts and
// errors ("user PIN"). Throws Error(general) for a missing variable, an unreadable,
// group/world-readable or someone else's file, a closed fd or an empty secret; Error(usage)
// when prompting without a terminal.
Secret read_secret(const SecretSource& source, std::string_view what);

// As read_secret, but a prompt asks twice and insists both entries match (new PINs, passwords):
// after a mismatch it asks again, up to kNewSecretAttempts pairs, then Error(usage). `check`,
// when given, sees the secret as soon as it is read (before the repeat prompt) and throws to
// refuse it.
inline constexpr int kNewSecretAttempts = 3;
Secret read_new_secret(const SecretSource& source, std::string_view what,
                       const std::function<void(const Secret&)>& check = {});

// Reads one line from the terminal without echo, writing `prompt` to it first. An empty line
// gives an empty Secret.
Secret prompt_hidden(std::string_view prompt);
// The same with echo (typed confirmations, custodian names).
Secret prompt_visible(std::string_view prompt);
// True when this process has a controlling terminal to prompt on.
bool has_terminal();
// Writes text to the terminal (never to stdout, which scripts may capture).
void write_terminal(std::string_view text);

}  // namespace hsm
