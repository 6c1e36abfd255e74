// RFC 7512 parser and matcher. Vendor attributes ("x-...") are refused like unknown ones: hsmctl
// cannot honour them, and ignoring an attribute could select a token the user did not mean.
#include "core/pkcs11/uri.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

#include "core/error.h"

namespace hsm::p11 {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <class T>
void set_once(std::optional<T>& slot, std::string_view name, T value) {
  if (slot) fail(Category::usage, fmt::format("pkcs11: URI repeats attribute '{}'", name));
  slot = std::move(value);
}

// 1*DIGIT, as an unsigned number not above `max`; nullopt for anything else.
std::optional<unsigned long> decimal(std::string_view s, unsigned long max) {
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > max) return {};
  return v;
}

// RFC 7512 section 2.3: pk11-lib-ver = 1*DIGIT [ "." 1*DIGIT ], the two bytes of CK_VERSION.
LibraryVersion library_version(const std::string& value) {
  const size_t dot = value.find('.');
  const auto major = decimal(std::string_view(value).substr(0, dot), 255);
  const auto minor = dot == std::string::npos
                         ? std::optional<unsigned long>(0)
                         : decimal(std::string_view(value).substr(dot + 1), 255);
  if (!major || !minor)
    fail(Category::usage, fmt::format("pkcs11: URI library-version '{}' is not M or M.N (each 0 "
                                      "to 255)", value));
  return {static_cast<unsigned>(*major), static_cast<unsigned>(*minor)};
}

void parse_path_attribute(Pkcs11Uri& uri, std::string_view name, std::string_view raw) {
  std::string value = percent_decode(raw);
  if (name == "token") return set_once(uri.token, name, value);
  if (name == "manufacturer") return set_once(uri.manufacturer, name, value);
  if (name == "serial") return set_once(uri.serial, name, value);
  if (name == "model") return set_once(uri.model, name, value);
  if (name == "object") return set_once(uri.object, name, value);
  if (name == "slot-description") return set_once(uri.slot_description, name, value);
  if (name == "slot-manufacturer") return set_once(uri.slot_manufacturer, name, value);
  if (name == "library-manufacturer") return set_once(uri.library_manufacturer, name, value);
  if (name == "library-description") return set_once(uri.library_description, name, value);
  if (name == "library-version")
    return set_once(uri.library_version, name, library_version(value));
  if (name == "type") {
    static const std::set<std::string> types{"public", "private", "cert", "secret-key", "data"};
    if (!types.count(value))
      fail(Category::usage, fmt::format("pkcs11: URI type '{}' is not one of public, private, "
                                        "cert, secret-key, data", value));
    return set_once(uri.type, name, value);
  }
  if (name == "id") return set_once(uri.id, name, Bytes(value.begin(), value.end()));
  if (name == "slot-id") {
    const auto id = decimal(value, ~0UL);
    if (!id) fail(Category::usage, fmt::format("pkcs11: URI slot-id '{}' is not a number", value));
    return set_once(uri.slot_id, name, *id);
  }
  if (name.rfind("x-", 0) == 0)
    fail(Category::usage, fmt::format("pkcs11: URI has vendor attribute '{}', which hsmctl does "
                                      "not support; leave it out", name));
  fail(Category::usage, fmt::format("pkcs11: URI has unknown attribute '{}'", name));
}

void parse_query_attribute(Pkcs11Uri& uri, std::string_view name, std::string_view raw) {
  if (name == "pin-value")
    fail(Category::usage, "pkcs11: URI carries a pin-value; PINs are never accepted on the "
                          "command line, use --pin-source");
  std::string value = percent_decode(raw);
  if (name == "pin-source") return set_once(uri.pin_source, name, value);
  if (name == "module-path") {
    // RFC 7512 section 2.3: an absolute path, to the module or to a directory of modules.
    if (value.empty() || value.front() != '/')
      fail(Category::usage, fmt::format("pkcs11: URI module-path '{}' is not an absolute path",
                                        value));
    return set_once(uri.module_path, name, value);
  }
  if (name == "module-name") {
    if (value.empty() || value.find('/') != std::string::npos)
      fail(Category::usage, fmt::format("pkcs11: URI module-name '{}' must be a module's name "
                                        "(like softhsm2), not a path; use module-path for a "
                                        "path", value));
    return set_once(uri.module_name, name, value);
  }
  if (name.rfind("x-", 0) == 0)
    fail(Category::usage, fmt::format("pkcs11: URI has vendor query attribute '{}', which hsmctl "
                                      "does not support; leave it out", name));
  fail(Category::usage, fmt::format("pkcs11: URI has unknown query attribute '{}'", name));
}

template <class F>
void for_each_pair(std::string_view list, char sep, F&& f) {
  while (!list.empty()) {
    const size_t end = list.find(sep);
    std::string_view item = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      fail(Category::usage, fmt::format("pkcs11: URI attribute '{}' has no value", item));
    f(item.substr(0, eq), item.substr(eq + 1));
  }
}

template <class T>
bool agrees(const std::optional<T>& wanted, const T& actual) {
  return !wanted || *wanted == actual;
}

}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      fail(Category::usage, "pkcs11: URI has a truncated percent-escape");
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0)
      fail(Category::usage, fmt::format("pkcs11: URI has a bad percent-escape '{}'", s.substr(i, 3)));
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Pkcs11Uri parse_uri(std::string_view text) {
  if (!looks_like_uri(text)) fail(Category::usage, "not a pkcs11: URI");
  std::string_view rest = text.substr(7);
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  Pkcs11Uri uri;
  for_each_pair(rest, ';', [&](auto n, auto v) { parse_path_attribute(uri, n, v); });
  for_each_pair(query, '&', [&](auto n, auto v) { parse_query_attribute(uri, n, v); });
  return uri;
}

bool Pkcs11Uri::matches(const TokenIdentity& t) const {
  return agrees(token, t.label) && agrees(manufacturer, t.manufacturer) &&
         agrees(serial, t.serial) && agrees(model, t.model) && agrees(slot_id, t.slot_id) &&
         agrees(slot_description, t.slot_description) &&
         agrees(slot_manufacturer, t.slot_manufacturer);
}

bool Pkcs11Uri::matches_library(const LibraryIdentity& lib) const {
  return agrees(library_manufacturer, lib.manufacturer) &&
         agrees(library_description, lib.description) && agrees(library_version, lib.version);
}

bool Pkcs11Uri::names_no_token() const {
  return !token && !manufacturer && !serial && !model && !slot_id && !slot_description &&
         !slot_manufacturer;
}

std::string Pkcs11Uri::object_attribute() const {
  if (object) return "object";
  if (id) return "id";
  if (type) return "type";
  return "";
}

}  // namespace hsm::p11
