// Slot enumeration and token selection/initialisation.
#include "core/pkcs11/token.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>

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

std::vector<TokenInfo> tokens_present(const Module& module) {
  std::vector<TokenInfo> out;
  for (CK_SLOT_ID id : slot_ids(module, true)) out.push_back(token_info(module, id));
  return out;
}

std::vector<TokenInfo> initialised_tokens(const Module& module) {
  std::vector<TokenInfo> out;
  for (auto& t : tokens_present(module))
    if (t.initialized) out.push_back(std::move(t));
  return out;
}

// "'ceremony' (slot 3, serial 0a1b)", or "slot 4 (free)" for a token not initialised.
std::string describe(const TokenInfo& t) {
  if (!t.initialized) return fmt::format("slot {} (free)", t.slot_id);
  return fmt::format("'{}' (slot {}, serial {})", t.label, t.slot_id, t.serial);
}

std::string describe_all(const std::vector<TokenInfo>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(describe(t));
  return fmt::format("{}", fmt::join(out, ", "));
}

std::string describe_module(const Module& module) {
  return fmt::format("module {} ({})", module.path(), module.description());
}

// A URI that chooses a token or a slot may not carry what only an object or a login can use.
void refuse_unusable(const Pkcs11Uri& uri) {
  if (const std::string a = uri.object_attribute(); !a.empty())
    fail(Category::usage, fmt::format("the pkcs11: URI names an object ('{}'), but here it "
                                      "chooses a token: hsmctl takes keys by their label, so "
                                      "leave object, id and type out of it", a));
  if (uri.pin_source)
    fail(Category::usage, "the pkcs11: URI has a 'pin-source', which hsmctl does not read: give "
                          "the PIN with --pin-source");
}

// The URI a user can give to pick `t` out of several: theirs (or token=LABEL) with its slot-id.
std::string with_slot_id(std::string_view selector, const TokenInfo& t) {
  if (!looks_like_uri(selector))
    return fmt::format("pkcs11:token={};slot-id={}", percent_encode(selector), t.slot_id);
  const std::string_view s = selector;
  const size_t q = s.find('?');
  const std::string_view path = s.substr(0, q), query = q == s.npos ? "" : s.substr(q);
  return fmt::format("{}{}slot-id={}{}", path, path.size() > 7 ? ";" : "", t.slot_id, query);
}

// The tokens of `candidates` that `selector` (a label or URI) names.
std::vector<TokenInfo> named_by(const Module& module, std::string_view selector,
                                const std::vector<TokenInfo>& candidates, bool& library_ok) {
  std::vector<TokenInfo> hits;
  library_ok = true;
  if (!looks_like_uri(selector)) {
    for (const auto& t : candidates)
      if (t.label == selector) hits.push_back(t);
    return hits;
  }
  const Pkcs11Uri uri = parse_uri(selector);
  refuse_unusable(uri);
  library_ok = uri.matches_library(module.library());
  for (const auto& t : candidates)
    if (library_ok && uri.matches(t)) hits.push_back(t);
  return hits;
}

std::string library_mismatch(const Module& module) {
  const LibraryIdentity lib = module.library();
  return fmt::format("{} is library '{}' by '{}', version {}.{}, which the URI's library-* "
                     "attributes do not match", describe_module(module), lib.description,
                     lib.manufacturer, lib.version.major, lib.version.minor);
}

// The one slot with a token that `slot` (decimal id or pkcs11: URI) names.
TokenInfo choose_slot(const Module& module, const std::vector<TokenInfo>& slots,
                      std::string_view slot) {
  if (!looks_like_uri(slot)) {
    unsigned long id = 0;
    auto [end, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), id);
    if (slot.empty() || ec != std::errc() || end != slot.data() + slot.size())
      fail(Category::usage, fmt::format("--slot '{}' is neither a decimal slot id nor a pkcs11: "
                                        "URI", slot));
    for (const auto& t : slots)
      if (t.slot_id == id) return t;
    fail(Category::not_found, fmt::format("no slot {} with a token on {}; slots with a token: {}",
                                          id, describe_module(module), describe_all(slots)));
  }
  bool library_ok = true;
  const std::vector<TokenInfo> hits = named_by(module, slot, slots, library_ok);
  if (hits.size() == 1) return hits.front();
  if (!library_ok) fail(Category::not_found, fmt::format("no slot matches: {}", library_mismatch(module)));
  if (hits.empty())
    fail(Category::not_found, fmt::format("no slot matches '{}' on {}; slots with a token: {}",
                                          slot, describe_module(module), describe_all(slots)));
  fail(Category::usage, fmt::format("'{}' matches several slots: {}; choose one with slot-id, "
                                    "e.g. --slot '{}'", slot, describe_all(hits),
                                    with_slot_id(slot, hits.front())));
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
  CK_SLOT_INFO si{};
  check(module.fn()->C_GetSlotInfo(slot_id, &si), "reading slot information");
  t.slot_description = padded(si.slotDescription);
  t.slot_manufacturer = padded(si.manufacturerID);
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
  const std::vector<TokenInfo> tokens = initialised_tokens(module);
  bool library_ok = true;
  const std::vector<TokenInfo> hits =
      selector.empty() ? tokens : named_by(module, selector, tokens, library_ok);
  if (hits.size() == 1) return hits.front();
  if (!library_ok)
    fail(Category::not_found, fmt::format("token '{}' not found: {}", selector,
                                          library_mismatch(module)));
  if (tokens.empty())
    fail(Category::not_found, fmt::format("no initialised token found on {}; create one with "
                                          "'hsmctl token init'", describe_module(module)));
  if (hits.empty())
    fail(Category::not_found, fmt::format("token '{}' not found on {}; tokens present: {}",
                                          selector, describe_module(module),
                                          describe_all(tokens)));
  if (selector.empty())
    fail(Category::usage, fmt::format("several tokens present ({}); choose one with --token, "
                                      "e.g. --token '{}'", describe_all(tokens),
                                      with_slot_id("pkcs11:", tokens.front())));
  fail(Category::usage, fmt::format("'{}' matches several tokens: {}; tell them apart by "
                                    "slot-id, e.g. --token '{}'", selector, describe_all(hits),
                                    with_slot_id(selector, hits.front())));
}

TokenInfo slot_named(const Module& module, std::string_view slot) {
  return choose_slot(module, tokens_present(module), slot);
}

InitTarget init_target(const Module& module, std::string_view label, std::string_view slot) {
  const std::vector<TokenInfo> slots = tokens_present(module);
  InitTarget target;
  for (const auto& t : slots)
    if (t.initialized) target.initialised_before.push_back(t.slot_id);
  std::optional<TokenInfo> chosen;
  if (!slot.empty()) chosen = choose_slot(module, slots, slot);
  for (const auto& t : slots) {
    if (!t.initialized || t.label != label || (chosen && chosen->slot_id == t.slot_id)) continue;
    if (!chosen && !t.user_pin_initialized) {
      target.slot = t;
      target.unfinished = true;
      return target;
    }
    fail(Category::not_found, fmt::format("a token labelled '{}' already exists (slot {}); "
                                          "choose another label", label, t.slot_id));
  }
  if (chosen) {
    target.slot = *chosen;
    target.unfinished = chosen->initialized && chosen->label == label &&
                        !chosen->user_pin_initialized;
    target.reinitialise = chosen->initialized && !target.unfinished;
    return target;
  }
  for (const auto& t : slots)
    if (!t.initialized) {
      target.slot = t;
      return target;
    }
  fail(Category::token, fmt::format("no free slot for a new token on {}; to re-initialise a "
                                    "token, choose its slot with --slot", describe_module(module)));
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
  const unsigned long slot = target.slot.slot_id;
  check(module.fn()->C_InitToken(slot, const_cast<CK_UTF8CHAR*>(so_pin.data()), so_pin.size(),
                                 padded_label),
        "initialising the token");
  // Found again by slot id, never by serial (tokens of one model may share one). Most modules
  // keep the token in its slot; SoftHSM gives it a new slot id, one that held no initialised
  // token before.
  try {
    if (TokenInfo t = token_info(module, slot); t.initialized && t.label == label) return t;
  } catch (const Error&) {
    // The slot id is gone (the token moved): looked for below.
  }
  std::vector<TokenInfo> moved;
  for (const auto& t : initialised_tokens(module)) {
    const auto& before = target.initialised_before;
    if (t.label == label && std::find(before.begin(), before.end(), t.slot_id) == before.end())
      moved.push_back(t);
  }
  if (moved.size() == 1) return moved.front();
  fail(Category::token, fmt::format("the token in slot {} was initialised as '{}', but the module "
                                    "no longer shows it there and {} new slots have that label "
                                    "({}); see 'hsmctl token list'", slot, label, moved.size(),
                                    describe_all(moved)));
}

void set_so_pin(const Module& module, const TokenInfo& token, const Secret& current,
                const Secret& next) {
  Session session(module, token.slot_id, true);
  session.login_so(current);
  check(module.fn()->C_SetPIN(session.handle(), const_cast<CK_UTF8CHAR*>(current.data()),
                              current.size(), const_cast<CK_UTF8CHAR*>(next.data()), next.size()),
        "changing the SO PIN");
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
