// Slots and tokens: enumerate, select one by label or pkcs11: URI, and initialise a new token.
// Selection never guesses between two tokens: an ambiguous or unknown name is an error that
// lists what exists.
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

// The initialised token named by `selector` (a label or a pkcs11: URI); with an empty selector,
// the only initialised token. Throws Error(not_found) listing the labels that exist, or
// Error(usage) when the choice is ambiguous.
TokenInfo select_token(const Module& module, std::string_view selector);

// Where a token labelled `label` would be initialised, found before anything is asked or
// changed: the first free slot (its TokenInfo carries the PIN lengths the module allows), or,
// `unfinished`, the token of that label that was initialised but never given a user PIN.
// Refuses a label in use (not_found = "exists", exit 7) and a module without a free slot.
struct InitTarget {
  TokenInfo slot;
  bool unfinished = false;
};
InitTarget init_target(const Module& module, std::string_view label);

// Error(usage) naming the allowed range unless `pin` fits the token's ulMinPinLen..ulMaxPinLen
// (a bound the module reports as 0, or a range that makes no sense, is not checked).
void check_pin_length(const TokenInfo& token, const Secret& pin, std::string_view what);
// "4 to 255": the PIN lengths the token allows, for prompts and messages.
std::string pin_length_range(const TokenInfo& token);

// C_InitToken on the target's free slot; returns the new token (which has no user PIN yet).
TokenInfo init_token(const Module& module, const InitTarget& target, std::string_view label,
                     const Secret& so_pin);
// Logs in as SO and sets the user PIN (C_InitPIN) of a token that has none.
TokenInfo init_user_pin(const Module& module, const TokenInfo& token, const Secret& so_pin,
                        const Secret& user_pin);

}  // namespace hsm::p11
