// RFC 7512 "pkcs11:" URIs: parsing (with percent-decoding) and matching against tokens, slots
// and libraries. Every attribute of RFC 7512 is understood; anything else (vendor "x-"
// attributes included) is an error, never a silent wildcard. A URI that carries a PIN
// (pin-value) is refused: secrets never come from argv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm::p11 {

// What a URI's token and slot attributes are matched against (CK_TOKEN_INFO, CK_SLOT_INFO).
struct TokenIdentity {
  std::string label, manufacturer, model, serial;
  unsigned long slot_id = 0;
  std::string slot_description, slot_manufacturer;
};

// What the library-* attributes are matched against (CK_INFO of the module).
struct LibraryVersion {
  unsigned major = 0, minor = 0;
  bool operator==(const LibraryVersion&) const = default;
};
struct LibraryIdentity {
  std::string manufacturer, description;
  LibraryVersion version;
};

struct Pkcs11Uri {
  // Token and slot attributes.
  std::optional<std::string> token, manufacturer, serial, model;
  std::optional<unsigned long> slot_id;
  std::optional<std::string> slot_description, slot_manufacturer;
  // Library attributes (RFC 7512 "M.N"; "M" alone is M.0).
  std::optional<std::string> library_manufacturer, library_description;
  std::optional<LibraryVersion> library_version;
  // Object attributes.
  std::optional<std::string> object;
  std::optional<Bytes> id;
  std::optional<std::string> type;  // public, private, cert, secret-key, data
  // Query attributes.
  std::optional<std::string> module_path, module_name, pin_source;

  // Every token and slot attribute given matches `t`.
  bool matches(const TokenIdentity& t) const;
  // Every library attribute given matches `lib`.
  bool matches_library(const LibraryIdentity& lib) const;
  // True when no token/slot attribute is present (the URI matches every token).
  bool names_no_token() const;
  // True when module-path or module-name chooses the module.
  bool names_module() const { return module_path || module_name; }
  // "object", "id" or "type": the first object attribute present, or "" when there is none.
  std::string object_attribute() const;
};

inline bool looks_like_uri(std::string_view s) { return s.rfind("pkcs11:", 0) == 0; }

// Throws Error(usage) naming the problem: not a pkcs11: URI, unknown, vendor or repeated
// attribute, bad percent-encoding, non-numeric slot-id, a library-version not "M" or "M.N"
// (each 0 to 255), unknown type, a relative module-path, a module-name with a '/', or a
// pin-value.
Pkcs11Uri parse_uri(std::string_view text);

// Percent-decodes `s`; throws Error(usage) on a malformed escape.
std::string percent_decode(std::string_view s);
// Percent-encodes every byte but RFC 3986 unreserved characters (for URIs hsmctl suggests).
std::string percent_encode(std::string_view s);

}  // namespace hsm::p11
