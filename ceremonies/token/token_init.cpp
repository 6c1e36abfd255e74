// token init: the label, the slot (free, or an initialised one whose re-initialisation is
// confirmed) and the PINs are checked against what the token allows before anything changes
// (each PIN as soon as it is entered); then C_InitToken, the SO PIN change from a current
// (factory) one, the user PIN, and the record. The new token is found again by slot id, never
// by serial. A failure after C_InitToken says what state the token is left in and which
// command finishes it; it never leaves a token that `token init` cannot finish.
#include "ceremonies/token/token_init.h"

#include "ceremonies/token/token_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "ceremonies/recorder.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/error.h"
#include "core/transcript/appender.h"

namespace hsm {

namespace {

bool same_secret(const Secret& a, const Secret& b) {
  return a.size() == b.size() && std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin());
}

// The PINs of one run: `current` is the SO PIN the token has now when it is not the one it ends
// with (`so`); empty when C_InitToken takes the new SO PIN itself.
struct InitPins {
  Secret current, so, user;
};

// Initialises the token (unless an earlier run did), moves it from its current SO PIN to the
// chosen one, and sets its user PIN.
p11::TokenInfo make_token(p11::Module& module, const p11::InitTarget& target,
                          const std::string& label, const InitPins& pins) {
  const Secret& init_pin = pins.current.empty() ? pins.so : pins.current;
  const p11::TokenInfo made =
      target.unfinished ? target.slot : p11::init_token(module, target, label, init_pin);
  const std::string finish = fmt::format("'hsmctl token init --label {} --slot {}'", label,
                                         made.slot_id);
  if (!pins.current.empty() && !same_secret(pins.current, pins.so)) {
    try {
      p11::set_so_pin(module, made, pins.current, pins.so);
    } catch (const Error& e) {
      fail(e.category(),
           fmt::format("token '{}' (slot {}) is initialised, still with its current SO PIN, and "
                       "has no user PIN yet ({}); finish it with {} and that SO PIN as "
                       "--current-so-pin-source", label, made.slot_id, e.what(), finish),
           e.cause());
    }
  }
  try {
    return p11::init_user_pin(module, made, pins.so, pins.user);
  } catch (const Error& e) {
    fail(e.category(),
         fmt::format("token '{}' (slot {}) is initialised but has no user PIN yet ({}); finish "
                     "it with {} and the same SO PIN", label, made.slot_id, e.what(), finish),
         e.cause());
  }
}

// Re-initialising destroys every object on the token: typed (its label) or --yes.
void confirm_reinitialise(const p11::TokenInfo& t, bool yes) {
  if (yes) return;
  const std::string what =
      fmt::format("slot {} holds the initialised token '{}' (serial {}), and re-initialising it "
                  "destroys every object on it", t.slot_id, t.label, t.serial);
  if (!has_terminal())
    fail(Category::usage, fmt::format("{}: confirm at a terminal, or add --yes", what));
  const Secret typed = prompt_visible(fmt::format("{}. Type its label to confirm: ", what));
  if (typed.chars() != t.label)
    fail(Category::usage, fmt::format("not confirmed; the token in slot {} was not touched",
                                      t.slot_id));
}

// The PINs, each checked as soon as it is entered.
InitPins read_pins(Workspace& ws, const TokenInitOptions& options, const p11::InitTarget& target) {
  const p11::TokenInfo& limits = target.slot;
  const bool asks_current = target.reinitialise || options.current_so_pin_source.has_value();
  const SecretSource current_source = options.current_so_pin_source.value_or(SecretSource{});
  if (options.so_pin_source.kind == SecretSource::Kind::prompt ||
      ws.options().pin_source.kind == SecretSource::Kind::prompt ||
      (asks_current && current_source.kind == SecretSource::Kind::prompt))
    write_terminal(fmt::format("PINs on this token are {} characters long.\n",
                               p11::pin_length_range(limits)));
  const auto length_of = [&limits](const char* what) {
    return [&limits, what](const Secret& pin) { p11::check_pin_length(limits, pin, what); };
  };
  InitPins pins;
  if (target.unfinished && !asks_current) {
    // An unfinished token already has its SO PIN: it is asked for, not chosen.
    pins.so = read_secret(options.so_pin_source, "SO PIN of token '" + options.label + "'");
  } else {
    if (asks_current)
      pins.current = read_secret(current_source,
                                 fmt::format("current SO PIN of the token in slot {}",
                                             target.slot.slot_id));
    pins.so = read_new_secret(options.so_pin_source, "SO PIN", length_of("SO PIN"));
  }
  pins.user = read_new_secret(ws.options().pin_source, "user PIN", length_of("user PIN"));
  return pins;
}

// What a token is like when the check after C_InitPIN refuses it.
std::string state_after_init(const p11::TokenInfo& t) {
  return fmt::format("the token is initialised with its SO and user PINs but holds no hsmctl "
                     "object; re-initialise it with 'hsmctl token init --slot {} --yes' for "
                     "another use", t.slot_id);
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
                                           const p11::InitTarget& target, const InitPins& pins) {
  Recorder rec(ws, "token.init");
  try {
    rec.begin("token.init", {{"label", options.label}});
    const p11::TokenInfo t = make_token(ws.module(), target, options.label, pins);
    WorkspaceOptions on_new = ws.options();
    on_new.module_path = ws.module().path();
    on_new.token = fmt::format("pkcs11:slot-id={}", t.slot_id);
    Workspace created(on_new);
    created.use_pin(Secret::copy_of(pins.user.bytes()));
    require_capable_token(created, "token init", state_after_init(t));
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
  if (p11::looks_like_uri(slot)) {
    p11::parse_uri(slot);
  } else if (!slot.empty()) {
    unsigned long id = 0;
    auto [end, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), id);
    if (ec != std::errc() || end != slot.data() + slot.size())
      fail(Category::usage, fmt::format("--slot '{}' is neither a decimal slot id nor a pkcs11: "
                                        "URI", slot));
  }
}

void choose_module_for_slot(WorkspaceOptions& o, const std::string& slot) {
  if (p11::looks_like_uri(slot) && p11::parse_uri(slot).names_module())
    o.module_path = resolve_module_path(o.module_path, slot);
}

p11::TokenInfo init_token(Workspace& ws, const TokenInitOptions& options) {
  options.validate();
  p11::Module& module = ws.module();
  const p11::InitTarget target = p11::init_target(module, options.label, options.slot);
  // Before anything is asked or changed: a token that cannot keep the custody contract is
  // refused now, by its mechanism list (no session can log in to a token not initialised).
  if (const auto missing = p11::missing_required(
          p11::probe_mechanism_list(module, target.slot.slot_id));
      !missing.empty())
    fail(Category::token,
         fmt::format("the token in slot {} cannot keep hsmctl's custody contract: it lacks {}; "
                     "nothing was changed on it; 'hsmctl token check --slot {}' lists what it "
                     "can do", target.slot.slot_id, p11::describe_missing(missing),
                     target.slot.slot_id));
  if (target.reinitialise) confirm_reinitialise(target.slot, options.yes);
  const transcript::TranscriptState state =
      transcript::Transcript(ws.options().dir / "transcript.jsonl").state();
  const bool escrowed = state.current_key_kind == "escrowed" &&
                        transcript_key_escrowed(state, ws.keystore());
  if (escrowed && ws.options().token == options.label)
    fail(Category::usage, fmt::format("this workspace's transcript key is escrowed, and token "
                                      "init records the new token with it: name the token that "
                                      "holds it with --token, not the new token '{}'",
                                      options.label));

  InitPins pins = read_pins(ws, options, target);
  if (escrowed) return init_signed_by_escrowed_key(ws, options, target, pins);

  Secret pin_for_record = Secret::copy_of(pins.user.bytes());
  const p11::TokenInfo t = make_token(module, target, options.label, pins);
  // A new workspace, or one whose key is provisional: recorded in the workspace transcript,
  // signed by a key on the new token, which is chosen by its slot on this very module.
  WorkspaceOptions on_new = ws.options();
  on_new.module_path = module.path();
  on_new.token = fmt::format("pkcs11:slot-id={}", t.slot_id);
  Workspace created(on_new);
  created.use_pin(std::move(pin_for_record));
  // Now that a user can log in, every operation is tried (session objects only): a token whose
  // mechanism list promised more than it does is named here, before any hsmctl object is made.
  require_capable_token(created, "token init", state_after_init(t));
  try {
    run_ceremony(created, "token.init", {{"label", t.label}},
                 [&](Recorder& rec) { rec.record("token.init", token_event(t)); });
  } catch (const Error& e) {
    fail_unrecorded(e, t);
  }
  return t;
}

}  // namespace hsm
