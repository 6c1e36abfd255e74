// DER framing for the structures core/x509 assembles around OpenSSL's encodings (the signed
// Certificate, CertificateList and CertificationRequest, CMS signed attributes). Framing only:
// never encodes a field's content itself, and never accepts BER (indefinite lengths).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "core/bytes.h"

namespace hsm::x509::der {

inline constexpr std::uint8_t kInteger = 0x02, kBitString = 0x03, kUtcTime = 0x17, kSequence = 0x30,
                              kSet = 0x31;

// Tag, length and content of `content` (short or long form length).
Bytes tlv(std::uint8_t tag, ByteView content);
// A constructed value from already-encoded elements, in the order given.
Bytes constructed(std::uint8_t tag, std::initializer_list<ByteView> elements);
inline Bytes sequence(std::initializer_list<ByteView> elements) {
  return constructed(kSequence, elements);
}
// A BIT STRING with no unused bits: how signatures are carried.
Bytes bit_string(ByteView bytes);
// SET OF: the elements in ascending order of their encodings (X.690 11.6).
Bytes set_of(std::vector<Bytes> elements);

}  // namespace hsm::x509::der
