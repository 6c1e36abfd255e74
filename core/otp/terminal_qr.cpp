// QR codes for the terminal via libqrencode. Never stores or logs what it draws; wipes the
// module matrix (which encodes the text) before freeing it.
#include "core/otp/terminal_qr.h"

#include <qrencode.h>
#include <sodium.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace hsm::otp {

namespace {

struct QrDeleter {
  void operator()(QRcode* qr) const noexcept {
    const auto width = static_cast<std::size_t>(qr->width);
    if (qr->data != nullptr) sodium_memzero(qr->data, width * width);
    QRcode_free(qr);
  }
};
using QrPtr = std::unique_ptr<QRcode, QrDeleter>;

// True when the module at (x, y) of the padded picture is light. Outside the symbol is the
// quiet zone (light); libqrencode marks a dark module by bit 0.
bool is_light(const QRcode& qr, int x, int y) {
  const int sx = x - kQuietZone;
  const int sy = y - kQuietZone;
  if (sx < 0 || sy < 0 || sx >= qr.width || sy >= qr.width) return true;
  const auto index = static_cast<std::size_t>(sy) * static_cast<std::size_t>(qr.width) +
                     static_cast<std::size_t>(sx);
  return (qr.data[index] & 1) == 0;
}

}  // namespace

std::string render_qr_utf8(std::string_view text) {
  if (text.empty()) fail(Category::usage, "nothing to draw as a QR code");
  if (text.size() > static_cast<std::size_t>(INT_MAX))
    fail(Category::usage, "the text is too long for a QR code");

  errno = 0;
  QrPtr qr(QRcode_encodeData(static_cast<int>(text.size()),
                             reinterpret_cast<const unsigned char*>(text.data()), 0,
                             QR_ECLEVEL_M));
  if (!qr) {
    if (errno == ERANGE) fail(Category::usage, "the text is too long for a QR code");
    fail(Category::general, "libqrencode failed to make a QR code", std::strerror(errno));
  }

  const int size = qr->width + 2 * kQuietZone;
  std::string out;
  out.reserve(static_cast<std::size_t>((size + 1) / 2) * (static_cast<std::size_t>(size) * 3 + 1));
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top = is_light(*qr, x, y);
      // An odd last row has nothing below it: leave the lower half unpainted (dark).
      const bool bottom = y + 1 < size && is_light(*qr, x, y + 1);
      if (top && bottom) out += "\u2588";        // █
      else if (top) out += "\u2580";             // ▀
      else if (bottom) out += "\u2584";          // ▄
      else out += ' ';
    }
    out += '\n';
  }
  return out;
}

}  // namespace hsm::otp
