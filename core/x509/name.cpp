// Parsing and printing of distinguished names (see name.h) with OpenSSL's X509_NAME.
#include "core/x509/name.h"

#include <strings.h>

#include <cctype>
#include <vector>

#include "core/x509/assembly.h"

namespace hsm::x509 {

namespace {

struct Attribute {
  const char* key;
  int nid;
};
constexpr Attribute kAttributes[] = {
    {"CN", NID_commonName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"C", NID_countryName},
    {"L", NID_localityName},
    {"ST", NID_stateOrProvinceName},
    {"DC", NID_domainComponent},
    {"serialNumber", NID_serialNumber},
};

const std::string kExample = "give one like \"CN=Example Root,O=Example,C=DE\"";

[[noreturn]] void refuse(const std::string& why) {
  fail(Category::usage, "malformed subject: " + why + "; " + kExample);
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// One attribute "KEY=value" split at its first unescaped '=', value unescaped.
struct Piece {
  std::string key, value;
};

// Splits at unescaped ','; refuses unescaped '+' and a dangling backslash.
std::vector<Piece> split(std::string_view text) {
  std::vector<Piece> pieces(1);
  bool in_value = false;
  std::string raw_key, value;
  const auto finish = [&] {
    if (!in_value && trimmed(raw_key).empty()) refuse("it has an empty part between commas");
    if (!in_value) refuse("'" + trimmed(raw_key) + "' has no '='");
    pieces.back() = {trimmed(raw_key), trimmed(value)};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (++i == text.size()) refuse("it ends in a backslash");
      c = text[i];
    } else if (c == ',') {
      finish();
      pieces.emplace_back();
      raw_key.clear();
      value.clear();
      in_value = false;
      continue;
    } else if (c == '+') {
      refuse("multi-valued RDNs ('+') are not supported");
    } else if (c == '=' && !in_value) {
      in_value = true;
      continue;
    }
    (in_value ? value : raw_key).push_back(c);
  }
  finish();
  return pieces;
}

int attribute_nid(const std::string& key) {
  for (const Attribute& a : kAttributes)
    if (strcasecmp(a.key, key.c_str()) == 0) return a.nid;
  refuse("unknown attribute '" + key + "' (use CN, O, OU, C, L, ST, DC or serialNumber)");
}

bool country_code(const std::string& value) {
  return value.size() == 2 && std::isupper(static_cast<unsigned char>(value[0])) &&
         std::isupper(static_cast<unsigned char>(value[1]));
}

}  // namespace

Bytes subject_name(std::string_view text) {
  if (trimmed(text).empty()) refuse("it is empty");
  std::vector<Piece> pieces = split(text);
  NamePtr name(X509_NAME_new());
  // RFC 4514 writes the last RDN first, so "CN=...,O=...,C=DE" is C, O, CN in the DER.
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
    const int nid = attribute_nid(it->key);
    if (it->value.empty()) refuse("'" + it->key + "' has an empty value");
    if (nid == NID_countryName && !country_code(it->value))
      refuse("C must be a two-letter ISO 3166 country code in capitals, not '" + it->value + "'");
    const auto* bytes = reinterpret_cast<const unsigned char*>(it->value.data());
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8, bytes,
                                   static_cast<int>(it->value.size()), -1, 0) != 1) {
      openssl_error();
      refuse("the value of '" + it->key + "' is too long or not valid UTF-8");
    }
  }
  return name_der(name.get());
}

std::string name_text(ByteView der) {
  NamePtr name = parse_name(der);
  BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253/4514 escaping, but UTF-8 kept as UTF-8 rather than \XX escapes.
  X509_NAME_print_ex(bio.get(), name.get(), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace hsm::x509
