// Terminal QR rendering: shape of the half-block picture (square symbol plus quiet zone).
#include "core/otp/terminal_qr.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace hsm::otp {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Terminal cells in a line: UTF-8 code points (continuation bytes are 10xxxxxx).
std::size_t cells(const std::string& line) {
  std::size_t n = 0;
  for (unsigned char c : line)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

TEST(TerminalQr, SmallTextIsAVersion1SymbolWithQuietZone) {
  const std::string qr = render_qr_utf8("hello");
  ASSERT_FALSE(qr.empty());
  EXPECT_EQ(qr.back(), '\n');
  const auto lines = lines_of(qr);
  const std::size_t size = 21 + 2 * kQuietZone;  // version 1 is 21 modules wide
  ASSERT_EQ(lines.size(), (size + 1) / 2);
  for (const auto& line : lines) EXPECT_EQ(cells(line), size);
  std::string solid;
  for (std::size_t i = 0; i < size; ++i) solid += "\u2588";
  EXPECT_EQ(lines.front(), solid);  // quiet zone rows 0 and 1 are light
  for (const auto& line : lines)
    for (char c : std::string_view(line))
      EXPECT_TRUE(c == ' ' || (static_cast<unsigned char>(c) & 0x80)) << line;
}

TEST(TerminalQr, OtpauthUriIsSquareOfAValidVersion) {
  const std::string uri =
      "otpauth://totp/ACME%20Corp:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
      "&issuer=ACME%20Corp&algorithm=SHA1&digits=6&period=30";
  const auto lines = lines_of(render_qr_utf8(uri));
  ASSERT_FALSE(lines.empty());
  const std::size_t size = cells(lines.front());
  const std::size_t width = size - 2 * kQuietZone;
  EXPECT_EQ((width - 17) % 4, 0u) << width;  // QR widths are 17 + 4 * version
  EXPECT_GT(width, 21u);                     // this much text needs more than version 1
  EXPECT_EQ(lines.size(), (size + 1) / 2);
  for (const auto& line : lines) EXPECT_EQ(cells(line), size);
}

TEST(TerminalQr, EmptyOrOversizedTextIsAUsageError) {
  for (const std::string& text : {std::string(), std::string(8000, 'x')}) {
    try {
      render_qr_utf8(text);
      ADD_FAILURE() << text.size() << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::usage) << e.what();
    }
  }
}

}  // namespace
}  // namespace hsm::otp
