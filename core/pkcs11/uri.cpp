// RFC 7512 parser. Vendor attributes ("x-...") are accepted and ignored, as the RFC allows;
// any other unknown attribute is an error rather than a silent wildcard.
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

void set_once(std::optional<std::string>& slot, std::string_view name, std::string value) {
  if (slot) fail(Category::usage, fmt::format("pkcs11: URI repeats attribute '{}'", name));
  slot = std::move(value);
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
  if (name == "library-version") return set_once(uri.library_version, name, value);
  if (name == "type") {
    static const std::set<std::string> types{"public", "private", "cert", "secret-key", "data"};
    if (!types.count(value))
      fail(Category::usage, fmt::format("pkcs11: URI type '{}' is not one of public, private, "
                                        "cert, secret-key, data", value));
    return set_once(uri.type, name, value);
  }
  if (name == "id") {
    if (uri.id) fail(Category::usage, "pkcs11: URI repeats attribute 'id'");
    uri.id = Bytes(value.begin(), value.end());
    return;
  }
  if (name == "slot-id") {
    unsigned long id = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
      fail(Category::usage, fmt::format("pkcs11: URI slot-id '{}' is not a number", value));
    if (uri.slot_id) fail(Category::usage, "pkcs11: URI repeats attribute 'slot-id'");
    uri.slot_id = id;
    return;
  }
  if (name.rfind("x-", 0) == 0) return;
  fail(Category::usage, fmt::format("pkcs11: URI has unknown attribute '{}'", name));
}

void parse_query_attribute(Pkcs11Uri& uri, std::string_view name, std::string_view raw) {
  if (name == "pin-value")
    fail(Category::usage, "pkcs11: URI carries a pin-value; PINs are never accepted on the "
                          "command line, use --pin-source");
  std::string value = percent_decode(raw);
  if (name == "pin-source") return set_once(uri.pin_source, name, value);
  if (name == "module-path") return set_once(uri.module_path, name, value);
  if (name == "module-name") return set_once(uri.module_name, name, value);
  if (name.rfind("x-", 0) == 0) return;
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
  return (!token || *token == t.label) && (!manufacturer || *manufacturer == t.manufacturer) &&
         (!serial || *serial == t.serial) && (!model || *model == t.model) &&
         (!slot_id || *slot_id == t.slot_id);
}

bool Pkcs11Uri::names_no_token() const {
  return !token && !manufacturer && !serial && !model && !slot_id;
}

}  // namespace hsm::p11
