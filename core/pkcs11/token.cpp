// Slot enumeration and token selection/initialisation.
#include "core/pkcs11/token.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/pkcs11/rv.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/text.h"

namespace hsm::p11 {

namespace {

std::vector<CK_SLOT_ID> slot_ids(const Module& module, bool with_token) {
  CK_ULONG count = 0;
  check(module.fn()->C_GetSlotList(with_token ? CK_TRUE : CK_FALSE, nullptr, &count),
        "listing slots");
  std::vector<CK_SLOT_ID> ids(count);
  check(module.fn()->C_GetSlotList(with_token ? CK_TRUE : CK_FALSE, ids.data(), &count),
        "listing slots");
  ids.resize(count);
  return ids;
}

std::vector<std::string> labels(const std::vector<TokenInfo>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back("'" + t.label + "'");
  return out;
}

std::vector<TokenInfo> initialised_tokens(const Module& module) {
  std::vector<TokenInfo> out;
  for (CK_SLOT_ID id : slot_ids(module, true)) {
    TokenInfo t = token_info(module, id);
    if (t.initialized) out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

TokenInfo token_info(const Module& module, unsigned long slot_id) {
  CK_TOKEN_INFO ti{};
  check(module.fn()->C_GetTokenInfo(slot_id, &ti), "reading token information");
  TokenInfo t;
  t.slot_id = slot_id;
  t.label = padded(ti.label);
  t.manufacturer = padded(ti.manufacturerID);
  t.model = padded(ti.model);
  t.serial = padded(ti.serialNumber);
  t.initialized = ti.flags & CKF_TOKEN_INITIALIZED;
  t.login_required = ti.flags & CKF_LOGIN_REQUIRED;
  t.user_pin_initialized = ti.flags & CKF_USER_PIN_INITIALIZED;
  t.user_pin_count_low = ti.flags & CKF_USER_PIN_COUNT_LOW;
  t.user_pin_final_try = ti.flags & CKF_USER_PIN_FINAL_TRY;
  t.user_pin_locked = ti.flags & CKF_USER_PIN_LOCKED;
  t.so_pin_locked = ti.flags & CKF_SO_PIN_LOCKED;
  t.has_rng = ti.flags & CKF_RNG;
  t.firmware = fmt::format("{}.{}", ti.firmwareVersion.major, ti.firmwareVersion.minor);
  t.hardware = fmt::format("{}.{}", ti.hardwareVersion.major, ti.hardwareVersion.minor);
  t.min_pin_len = ti.ulMinPinLen;
  t.max_pin_len = ti.ulMaxPinLen;
  t.free_private_memory = ti.ulFreePrivateMemory;
  t.total_private_memory = ti.ulTotalPrivateMemory;
  return t;
}

std::vector<SlotEntry> list_slots(const Module& module) {
  std::vector<SlotEntry> out;
  for (CK_SLOT_ID id : slot_ids(module, false)) {
    CK_SLOT_INFO si{};
    check(module.fn()->C_GetSlotInfo(id, &si), "reading slot information");
    SlotEntry e;
    e.slot_id = id;
    e.description = padded(si.slotDescription);
    if (si.flags & CKF_TOKEN_PRESENT) e.token = token_info(module, id);
    out.push_back(std::move(e));
  }
  return out;
}

TokenInfo select_token(const Module& module, std::string_view selector) {
  std::vector<TokenInfo> tokens = initialised_tokens(module);
  std::vector<TokenInfo> hits;
  if (selector.empty()) {
    hits = tokens;
  } else if (looks_like_uri(selector)) {
    const Pkcs11Uri uri = parse_uri(selector);
    for (const auto& t : tokens)
      if (uri.matches(t)) hits.push_back(t);
  } else {
    for (const auto& t : tokens)
      if (t.label == selector) hits.push_back(t);
  }
  if (hits.size() == 1) return hits.front();
  if (tokens.empty())
    fail(Category::not_found, "no initialised token found; create one with 'hsmctl token init'");
  if (hits.empty())
    fail(Category::not_found, fmt::format("token '{}' not found; tokens present: {}", selector,
                                          fmt::join(labels(tokens), ", ")));
  if (selector.empty())
    fail(Category::usage, fmt::format("several tokens present ({}); choose one with --token",
                                      fmt::join(labels(tokens), ", ")));
  fail(Category::usage, fmt::format("'{}' matches several tokens ({}); use a pkcs11: URI with "
                                    "serial= to choose one", selector,
                                    fmt::join(labels(hits), ", ")));
}

InitTarget init_target(const Module& module, std::string_view label) {
  for (const auto& t : initialised_tokens(module)) {
    if (t.label != label) continue;
    if (!t.user_pin_initialized) return {t, true};
    fail(Category::not_found, fmt::format("a token labelled '{}' already exists (slot {}); "
                                          "choose another label", label, t.slot_id));
  }
  for (CK_SLOT_ID id : slot_ids(module, true))
    if (TokenInfo t = token_info(module, id); !t.initialized) return {t, false};
  fail(Category::token, "no free slot for a new token on this module");
}

namespace {

// A maximum PIN length the module reports as 0, "unavailable" or below the minimum is unknown.
bool max_pin_len_known(const TokenInfo& token) {
  return token.max_pin_len != 0 && token.max_pin_len >= token.min_pin_len &&
         token.max_pin_len != CK_UNAVAILABLE_INFORMATION;
}

}  // namespace

std::string pin_length_range(const TokenInfo& token) {
  const unsigned long min = std::max(token.min_pin_len, 1UL);
  if (!max_pin_len_known(token)) return fmt::format("at least {}", min);
  return fmt::format("{} to {}", min, token.max_pin_len);
}

void check_pin_length(const TokenInfo& token, const Secret& pin, std::string_view what) {
  const bool too_short = pin.size() < token.min_pin_len;
  if (!too_short && (!max_pin_len_known(token) || pin.size() <= token.max_pin_len)) return;
  // The refused PIN's own length is not said: it would tell how long the intended one is.
  fail(Category::usage, fmt::format("the {} is too {} for this token, which takes PINs of {} "
                                    "characters; nothing was changed on the token",
                                    what, too_short ? "short" : "long", pin_length_range(token)));
}

TokenInfo init_token(const Module& module, const InitTarget& target, std::string_view label,
                     const Secret& so_pin) {
  unsigned char padded_label[32];
  set_padded(padded_label, sizeof padded_label, label, "token label");
  check(module.fn()->C_InitToken(target.slot.slot_id, const_cast<CK_UTF8CHAR*>(so_pin.data()),
                                 so_pin.size(), padded_label),
        "initialising the token");
  // Some modules (SoftHSM among them) move a freshly initialised token to a new slot id.
  return select_token(module, label);
}

TokenInfo init_user_pin(const Module& module, const TokenInfo& token, const Secret& so_pin,
                        const Secret& user_pin) {
  {
    Session session(module, token.slot_id, true);
    session.login_so(so_pin);
    check(module.fn()->C_InitPIN(session.handle(), const_cast<CK_UTF8CHAR*>(user_pin.data()),
                                 user_pin.size()),
          "setting the user PIN");
  }
  return token_info(module, token.slot_id);
}

}  // namespace hsm::p11
