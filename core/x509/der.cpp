// DER headers and the few constructed values core/x509 frames (see der.h).
#include "core/x509/der.h"

#include <algorithm>
#include <cstring>

namespace hsm::x509::der {

namespace {

void append_header(Bytes& out, std::uint8_t tag, std::size_t length) {
  out.push_back(tag);
  if (length < 0x80) {
    out.push_back(static_cast<std::uint8_t>(length));
    return;
  }
  std::uint8_t digits[sizeof(std::size_t)];
  std::size_t n = 0;
  for (std::size_t v = length; v != 0; v >>= 8) digits[n++] = static_cast<std::uint8_t>(v & 0xff);
  out.push_back(static_cast<std::uint8_t>(0x80 | n));
  while (n > 0) out.push_back(digits[--n]);
}

}  // namespace

Bytes tlv(std::uint8_t tag, ByteView content) {
  Bytes out;
  out.reserve(content.size() + 6);
  append_header(out, tag, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes constructed(std::uint8_t tag, std::initializer_list<ByteView> elements) {
  std::size_t length = 0;
  for (ByteView e : elements) length += e.size();
  Bytes out;
  out.reserve(length + 6);
  append_header(out, tag, length);
  for (ByteView e : elements) out.insert(out.end(), e.begin(), e.end());
  return out;
}

Bytes bit_string(ByteView bytes) {
  Bytes content{0x00};  // number of unused bits in the last octet
  content.insert(content.end(), bytes.begin(), bytes.end());
  return tlv(kBitString, content);
}

Bytes set_of(std::vector<Bytes> elements) {
  // Lexicographic on the encodings (DER's SET OF order). Spelled out: GCC 12 at -O3 warns
  // (-Wstringop-overread, a false positive) on std::vector's operator< here.
  std::sort(elements.begin(), elements.end(), [](const Bytes& a, const Bytes& b) {
    const std::size_t n = std::min(a.size(), b.size());
    const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
    return c != 0 ? c < 0 : a.size() < b.size();
  });
  Bytes content;
  for (const Bytes& e : elements) content.insert(content.end(), e.begin(), e.end());
  return tlv(kSet, content);
}

}  // namespace hsm::x509::der
