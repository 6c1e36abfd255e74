// token init: the label, the free slot and both PINs are checked against what the token allows
// before anything changes (each PIN as soon as it is entered); then C_InitToken, the user PIN,
// and the record. A failure after C_InitToken says what state the token is left in and which
// command finishes it; it never leaves a token that `token init` cannot finish.
#include "ceremonies/token/token_init.h"

#include <fmt/format.h>

#include "ceremonies/recorder.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/error.h"
#include "core/transcript/appender.h"

namespace hsm {

namespace {

// Initialises the token (unless an earlier run did) and sets its user PIN.
p11::TokenInfo make_token(p11::Module& module, const p11::InitTarget& target,
                          const std::string& label, const Secret& so_pin, const Secret& user_pin) {
  const p11::TokenInfo made =
      target.unfinished ? target.slot : p11::init_token(module, target, label, so_pin);
  try {
    return p11::init_user_pin(module, made, so_pin, user_pin);
  } catch (const Error& e) {
    fail(e.category(),
         fmt::format("token '{}' (serial {}) is initialised but has no user PIN yet ({}); finish "
                     "it with 'hsmctl token init --label {}' and the same SO PIN",
                     label, made.serial, e.what(), label),
         e.cause());
  }
}

// A failure once the token is whole: it is ready, only its record is missing.
[[noreturn]] void fail_unrecorded(const Error& e, const p11::TokenInfo& t) {
  fail(e.category(),
       fmt::format("token '{}' (serial {}) is initialised and its user PIN is set, but recording "
                   "it failed ({}); the token is ready to use and nothing needs redoing on it",
                   t.label, t.serial, e.what()),
       e.cause());
}

nlohmann::json token_event(const p11::TokenInfo& t) {
  return {{"label", t.label},
          {"serial", t.serial},
          {"manufacturer", t.manufacturer},
          {"model", t.model}};
}

// In a workspace whose transcript key is escrowed, the record is signed by that key on the
// token that holds it (--token), checked before the new token is touched: a new token never
// signs on with an unendorsed key (hsmctl-transcript(5)).
p11::TokenInfo init_signed_by_escrowed_key(Workspace& ws, const TokenInitOptions& options,
                                           const p11::InitTarget& target, const Secret& so_pin,
                                           const Secret& user_pin) {
  Recorder rec(ws, "token.init");
  try {
    rec.begin("token.init", {{"label", options.label}});
    const p11::TokenInfo t = make_token(ws.module(), target, options.label, so_pin, user_pin);
    try {
      rec.record("token.init", token_event(t));
      rec.end_ok();
    } catch (const Error& e) {
      fail_unrecorded(e, t);
    }
    return t;
  } catch (const Error& e) {
    rec.end_failure(e);
    throw;
  }
}

}  // namespace

void TokenInitOptions::validate() const {
  if (label.empty()) fail(Category::usage, "--label must not be empty");
  if (label.size() > 32)
    fail(Category::usage, fmt::format("token label '{}' is longer than 32 bytes", label));
}

p11::TokenInfo init_token(Workspace& ws, const TokenInitOptions& options) {
  options.validate();
  p11::Module& module = ws.module();
  const p11::InitTarget target = p11::init_target(module, options.label);
  const transcript::TranscriptState state =
      transcript::Transcript(ws.options().dir / "transcript.jsonl").state();
  const bool escrowed = state.current_key_kind == "escrowed" &&
                        transcript_key_escrowed(state, ws.keystore());
  if (escrowed && ws.options().token == options.label)
    fail(Category::usage, fmt::format("this workspace's transcript key is escrowed, and token "
                                      "init records the new token with it: name the token that "
                                      "holds it with --token, not the new token '{}'",
                                      options.label));

  const p11::TokenInfo& limits = target.slot;
  if (options.so_pin_source.kind == SecretSource::Kind::prompt ||
      ws.options().pin_source.kind == SecretSource::Kind::prompt)
    write_terminal(fmt::format("PINs on this token are {} characters long.\n",
                               p11::pin_length_range(limits)));
  const auto length_of = [&limits](const char* what) {
    return [&limits, what](const Secret& pin) { p11::check_pin_length(limits, pin, what); };
  };
  // An unfinished token already has its SO PIN: it is asked for, not chosen.
  const Secret so_pin = target.unfinished
                            ? read_secret(options.so_pin_source,
                                          "SO PIN of token '" + options.label + "'")
                            : read_new_secret(options.so_pin_source, "SO PIN", length_of("SO PIN"));
  const Secret user_pin =
      read_new_secret(ws.options().pin_source, "user PIN", length_of("user PIN"));
  if (escrowed) return init_signed_by_escrowed_key(ws, options, target, so_pin, user_pin);

  Secret pin_for_record = Secret::copy_of(user_pin.bytes());
  const p11::TokenInfo t = make_token(module, target, options.label, so_pin, user_pin);
  // A new workspace, or one whose key is provisional: recorded in the workspace transcript,
  // signed by a key on the new token.
  WorkspaceOptions on_new = ws.options();
  on_new.token = "pkcs11:serial=" + t.serial;
  Workspace created(on_new);
  created.use_pin(std::move(pin_for_record));
  try {
    run_ceremony(created, "token.init", {{"label", t.label}},
                 [&](Recorder& rec) { rec.record("token.init", token_event(t)); });
  } catch (const Error& e) {
    fail_unrecorded(e, t);
  }
  return t;
}

}  // namespace hsm
