// Fuzz target for the RFC 7512 "pkcs11:" URI parser. An accepted URI must match the token it
// describes, and percent-decoding must undo percent-encoding of any bytes.
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/pkcs11/uri.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm;
  using fuzz::expect;
  const std::string_view text = fuzz::as_text(data, size);

  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : text) {
    encoded += '%';
    encoded += kHex[c >> 4];
    encoded += kHex[c & 15];
  }
  expect(p11::percent_decode(encoded) == text, "percent_decode(percent_encode(x)) == x");

  try {
    const std::string decoded = p11::percent_decode(text);
    expect(decoded.size() <= text.size(), "decoding never grows the text");
  } catch (const Error&) {
  }

  try {
    const p11::Pkcs11Uri uri = p11::parse_uri(text);
    expect(p11::looks_like_uri(text), "only pkcs11: URIs parse");
    p11::TokenIdentity own;
    own.label = uri.token.value_or("");
    own.manufacturer = uri.manufacturer.value_or("");
    own.model = uri.model.value_or("");
    own.serial = uri.serial.value_or("");
    own.slot_id = uri.slot_id.value_or(0);
    own.slot_description = uri.slot_description.value_or("");
    own.slot_manufacturer = uri.slot_manufacturer.value_or("");
    expect(uri.matches(own), "a URI matches the token it names");
    if (uri.names_no_token()) expect(uri.matches({}), "a URI naming no token matches any");
    p11::LibraryIdentity lib;
    lib.manufacturer = uri.library_manufacturer.value_or("");
    lib.description = uri.library_description.value_or("");
    lib.version = uri.library_version.value_or(p11::LibraryVersion{});
    expect(uri.matches_library(lib), "a URI matches the library it names");
  } catch (const Error&) {
  }
  return 0;
}
