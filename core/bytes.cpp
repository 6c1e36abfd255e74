// Hex and base64 for public data (uses libsodium's constant-time codecs).
#include "core/bytes.h"

#include <sodium.h>

#include "core/error.h"

namespace hsm {

std::string to_hex(ByteView b) {
  std::string out(b.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), b.data(), b.size());
  out.pop_back();
  return out;
}

Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) fail(Category::usage, "hex string has an odd number of digits");
  Bytes out(hex.size() / 2);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != out.size())
    fail(Category::usage, "not a hex string");
  return out;
}

std::string to_base64(ByteView b) {
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(b.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), variant);
  out.resize(out.size() - 1);
  return out;
}

Bytes from_base64(std::string_view b64) {
  Bytes out(b64.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size())
    fail(Category::integrity, "malformed base64");
  out.resize(len);
  return out;
}

}  // namespace hsm
