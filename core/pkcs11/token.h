// Slots and tokens: enumerate, select one by label or pkcs11: URI, and initialise a new token.
// Selection never guesses between two tokens: an ambiguous or unknown name is an error that
// lists what exists (with slot ids) and names the module searched.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/pkcs11/module.h"
#include "core/pkcs11/uri.h"
#include "core/secure/secret.h"

namespace hsm::p11 {

struct TokenInfo : TokenIdentity {
  bool initialized = false;
  bool login_required = false;
  bool user_pin_initialized = false;
  bool user_pin_count_low = false;
  bool user_pin_final_try = false;
  bool user_pin_locked = false;
  bool so_pin_locked = false;
  bool has_rng = false;
  std::string firmware, hardware;
  unsigned long min_pin_len = 0, max_pin_len = 0;
  unsigned long free_private_memory = 0, total_private_memory = 0;
};

struct SlotEntry {
  unsigned long slot_id = 0;
  std::string description;
  std::optional<TokenInfo> token;  // empty when no token is present
};

std::vector<SlotEntry> list_slots(const Module& module);
TokenInfo token_info(const Module& module, unsigned long slot_id);

// The initialised token named by `selector` (a label or a pkcs11: URI, whose token, slot and
// library attributes must all match; its module-path/module-name chose `module` already);
// with an empty selector, the only initialised token. Throws Error(not_found) naming the
// module and listing the tokens it has, Error(usage) when the choice is ambiguous (listing the
// candidates with their slot ids and suggesting slot-id=), or when the URI names an object
// (object, id, type) or a pin-source, which a token selection cannot use.
TokenInfo select_token(const Module& module, std::string_view selector);

// Where a token labelled `label` would be initialised, found before anything is asked or
// changed. `slot` is "" (the first free slot), a decimal slot id, or a pkcs11: URI that must
// match exactly one slot with a token present. The result is that slot (its TokenInfo carries
// the PIN lengths the module allows) and how it is to be used: `unfinished`, a token of that
// label initialised but never given a user PIN (finished, not re-initialised); `reinitialise`,
// a slot whose token is initialised already (the caller must have that confirmed).
// Refuses a label in use on another slot (not_found = "exists", exit 7), an unknown slot
// (exit 7), an ambiguous slot URI (exit 2) and a module without a free slot (exit 6).
struct InitTarget {
  TokenInfo slot;
  bool unfinished = false;
  bool reinitialise = false;
  std::vector<unsigned long> initialised_before;  // slot ids that held an initialised token
};
// The one slot with a token that `slot` (a decimal slot id or a pkcs11: URI) names, initialised
// or not. Error(not_found) listing the slots when none is, Error(usage) when several are.
TokenInfo slot_named(const Module& module, std::string_view slot);

InitTarget init_target(const Module& module, std::string_view label, std::string_view slot = {});

// Error(usage) naming the allowed range unless `pin` fits the token's ulMinPinLen..ulMaxPinLen
// (a bound the module reports as 0, or a range that makes no sense, is not checked).
void check_pin_length(const TokenInfo& token, const Secret& pin, std::string_view what);
// "4 to 255": the PIN lengths the token allows, for prompts and messages.
std::string pin_length_range(const TokenInfo& token);

// C_InitToken on the target's slot with `so_pin` (the new SO PIN of a free slot, the current
// one of an initialised token); returns the new token (which has no user PIN yet), found again
// by slot id: the same slot, or, for a module that moves a new token (SoftHSM), the one slot
// that did not hold an initialised token before and now holds this label. Never by serial.
TokenInfo init_token(const Module& module, const InitTarget& target, std::string_view label,
                     const Secret& so_pin);
// Logs in as SO with `current` and changes the SO PIN to `next` (C_SetPIN).
void set_so_pin(const Module& module, const TokenInfo& token, const Secret& current,
                const Secret& next);
// Logs in as SO and sets the user PIN (C_InitPIN) of a token that has none.
TokenInfo init_user_pin(const Module& module, const TokenInfo& token, const Secret& so_pin,
                        const Secret& user_pin);

}  // namespace hsm::p11
