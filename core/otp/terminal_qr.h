// Draws a QR code as UTF-8 half-block text for a terminal, for TOTP enrolment. The text drawn
// is usually an otpauth:// URI, so the result carries the seed: never log it or write it to a
// file; write it to the terminal only.
#pragma once

#include <string>
#include <string_view>

namespace hsm::otp {

// Modules of light margin drawn around the symbol (the QR specification asks for 4).
inline constexpr int kQuietZone = 4;

// The QR code (error correction level M, smallest version that fits) of `text`, as lines of
// "▀", "▄", "█" and " ", each line holding two module rows and ending in '\n'. Drawn for light
// text on a dark background: a painted half cell is a light module, so the quiet zone is solid
// blocks. A symbol of width W gives (W + 2*kQuietZone + 1) / 2 lines of W + 2*kQuietZone cells.
// The returned string contains `text`'s information: the caller must only write it to the
// terminal. Throws Error(usage) when text is empty or too long for a QR code.
std::string render_qr_utf8(std::string_view text);

}  // namespace hsm::otp
