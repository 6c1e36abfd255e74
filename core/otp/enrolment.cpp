// Base32 and otpauth:// URIs for TOTP enrolment. Never copies the seed, or its base32 form, into
// anything but a Secret.
#include "core/otp/enrolment.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/otp/totp.h"

namespace hsm::otp {

namespace {

// 0..25 -> 'A'..'Z', 26..31 -> '2'..'7' without a branch or a secret-indexed table.
char base32_digit(unsigned v) {
  const int x = static_cast<int>(v & 31);
  const int is_digit = ((25 - x) >> 8) & 1;  // 1 when x >= 26 (arithmetic shift of a negative)
  return static_cast<char>('A' + x + is_digit * ('2' - 'A' - 26));
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void check_label_part(std::string_view what, std::string_view value) {
  if (value.empty()) fail(Category::usage, "the TOTP " + std::string(what) + " is empty");
  if (value.find(':') != std::string_view::npos)
    fail(Category::usage, "the TOTP " + std::string(what) + " '" + std::string(value) +
                              "' contains ':', which authenticator apps read as a separator");
}

}  // namespace

Secret base32_encode(const Secret& bytes) {
  const std::size_t out_len = (bytes.size() * 8 + 4) / 5;
  Secret out(out_len);
  std::size_t o = 0;
  unsigned buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    buffer = (buffer << 8) | bytes.data()[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.data()[o++] = static_cast<std::uint8_t>(base32_digit(buffer >> bits));
    }
  }
  if (bits > 0) out.data()[o++] = static_cast<std::uint8_t>(base32_digit(buffer << (5 - bits)));
  return out;
}

Secret otpauth_uri(std::string_view issuer, std::string_view account, const Secret& seed) {
  check_label_part("issuer", issuer);
  check_label_part("account", account);
  if (seed.empty()) fail(Category::usage, "the TOTP seed is empty");

  const std::string encoded_issuer = percent_encode(issuer);
  const std::string head =
      "otpauth://totp/" + encoded_issuer + ":" + percent_encode(account) + "?secret=";
  const std::string tail = "&issuer=" + encoded_issuer + "&algorithm=SHA1&digits=" +
                           std::to_string(kDigits) + "&period=" + std::to_string(kTimeStep);
  const Secret secret = base32_encode(seed);

  Secret uri(head.size() + secret.size() + tail.size());
  std::uint8_t* p = uri.data();
  std::memcpy(p, head.data(), head.size());
  std::memcpy(p + head.size(), secret.data(), secret.size());
  std::memcpy(p + head.size() + secret.size(), tail.data(), tail.size());
  return uri;
}

}  // namespace hsm::otp
