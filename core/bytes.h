// Public byte strings and their text forms (hex, base64). Never for secrets: those live in
// hsm::Secret (core/secure/secret.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hsm {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

std::string to_hex(ByteView b);
// Throws Error(usage) on odd length or a non-hex character.
Bytes from_hex(std::string_view hex);
std::string to_base64(ByteView b);
// Throws Error(integrity) on malformed input.
Bytes from_base64(std::string_view b64);

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace hsm
