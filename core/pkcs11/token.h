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

// C_InitToken on a free (uninitialised) slot, then C_InitPIN with the user PIN. Refuses a label
// that already exists (not_found = "exists", exit 7). Returns the new token.
TokenInfo init_token(const Module& module, std::string_view label, const Secret& so_pin,
                     const Secret& user_pin);

}  // namespace hsm::p11
