// RFC 7512 "pkcs11:" URIs: parsing (with percent-decoding) and matching against tokens.
// A URI that carries a PIN (pin-value) is refused: secrets never come from argv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm::p11 {

struct TokenIdentity {
  std::string label, manufacturer, model, serial;
  unsigned long slot_id = 0;
};

struct Pkcs11Uri {
  // Token and slot attributes.
  std::optional<std::string> token, manufacturer, serial, model;
  std::optional<unsigned long> slot_id;
  std::optional<std::string> slot_description, slot_manufacturer;
  std::optional<std::string> library_manufacturer, library_description, library_version;
  // Object attributes.
  std::optional<std::string> object;
  std::optional<Bytes> id;
  std::optional<std::string> type;  // public, private, cert, secret-key, data
  // Query attributes.
  std::optional<std::string> module_path, module_name, pin_source;

  bool matches(const TokenIdentity& t) const;
  // True when no token/slot attribute is present (the URI matches every token).
  bool names_no_token() const;
};

inline bool looks_like_uri(std::string_view s) { return s.rfind("pkcs11:", 0) == 0; }

// Throws Error(usage) naming the problem: not a pkcs11: URI, unknown or repeated attribute,
// bad percent-encoding, non-numeric slot-id, unknown type, or a pin-value.
Pkcs11Uri parse_uri(std::string_view text);

// Percent-decodes `s`; throws Error(usage) on a malformed escape.
std::string percent_decode(std::string_view s);

}  // namespace hsm::p11
