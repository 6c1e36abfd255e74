// A custodian's share card as a one-page PDF (cairo's PDF surface, libqrencode for the QR code).
#include "core/print/share_card.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <qrencode.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace hsm::print {

namespace {

constexpr double kMargin = 50;      // points (1/72 inch)
constexpr int kWordColumns = 3;
constexpr double kWordLine = 17;
constexpr double kQrSize = 190;     // the symbol with its quiet zone
constexpr int kQrQuietZone = 4;     // modules, as the QR specification asks

struct PageSize {
  double width, height;
};

PageSize page_size(Paper p) {
  return p == Paper::letter ? PageSize{612, 792} : PageSize{595.276, 841.89};
}

// The PDF as cairo writes it, into locked memory that grows by doubling (the old copy is wiped
// when its Secret is released).
class PdfSink {
 public:
  static cairo_status_t write(void* self, const unsigned char* data, unsigned int n) {
    try {
      static_cast<PdfSink*>(self)->append(data, n);
      return CAIRO_STATUS_SUCCESS;
    } catch (...) {
      return CAIRO_STATUS_WRITE_ERROR;
    }
  }
  Secret take() {
    Secret out = Secret::copy_of(std::span<const std::uint8_t>(buf_.data(), used_));
    return out;
  }

 private:
  void append(const unsigned char* data, std::size_t n) {
    if (used_ + n > buf_.size()) {
      Secret bigger(std::max(buf_.size() * 2, used_ + n + (std::size_t{256} << 10)));
      if (used_ > 0) std::memcpy(bigger.data(), buf_.data(), used_);
      buf_ = std::move(bigger);
    }
    std::memcpy(buf_.data() + used_, data, n);
    used_ += n;
  }
  Secret buf_;
  std::size_t used_ = 0;
};

// The words of a mnemonic (separated by single spaces), as views into it.
std::vector<std::string_view> words_of(const Secret& mnemonic) {
  const std::string_view all(reinterpret_cast<const char*>(mnemonic.data()), mnemonic.size());
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start <= all.size()) {
    const std::size_t end = std::min(all.find(' ', start), all.size());
    if (end > start) words.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

struct QrDeleter {
  void operator()(QRcode* q) const noexcept {
    if (q == nullptr) return;
    sodium_memzero(q->data, static_cast<std::size_t>(q->width) * static_cast<std::size_t>(q->width));
    QRcode_free(q);
  }
};

void text_at(cairo_t* cr, double x, double y, const std::string& s) {
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, s.c_str());
}

void font(cairo_t* cr, const char* family, double size, bool bold = false) {
  cairo_select_font_face(cr, family, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

// The QR code of `mnemonic` (level M, 8-bit mode, smallest version that fits) as dark squares
// with a light quiet zone, `size` points wide, its top left corner at (x, y).
void draw_qr(cairo_t* cr, const Secret& mnemonic, double x, double y, double size) {
  // QRcode_encodeString wants a NUL-terminated string: a locked copy with the terminator.
  Secret text(mnemonic.size() + 1);
  std::memcpy(text.data(), mnemonic.data(), mnemonic.size());
  const std::unique_ptr<QRcode, QrDeleter> qr(QRcode_encodeString(
      reinterpret_cast<const char*>(text.data()), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!qr) fail(Category::usage, "the share is too long for a QR code");
  const int w = qr->width;
  const double module = size / (w + 2 * kQrQuietZone);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_rectangle(cr, x, y, size, size);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (int row = 0; row < w; ++row)
    for (int col = 0; col < w; ++col)
      if (qr->data[row * w + col] & 1)
        cairo_rectangle(cr, x + (col + kQrQuietZone) * module, y + (row + kQrQuietZone) * module,
                        module, module);
  cairo_fill(cr);
}

std::string set_line(const ShareCard& c) {
  std::string s = fmt::format("Share set {}: member {} of {}", c.identifier, c.member, c.members);
  if (c.groups > 1) s += fmt::format(" of group '{}'", c.group);
  return s;
}

std::string quorum_line(const ShareCard& c) {
  if (c.groups > 1)
    return fmt::format("Quorum: {} of the {} members of '{}', in {} of the {} groups of the set",
                       c.member_threshold, c.members, c.group, c.group_threshold, c.groups);
  return fmt::format("Quorum: any {} of the {} cards of this set rebuild the master secret",
                     c.member_threshold, c.members);
}

}  // namespace

Paper paper_named(std::string_view name) {
  if (name == "a4") return Paper::a4;
  if (name == "letter") return Paper::letter;
  fail(Category::usage, fmt::format("unknown paper size '{}' (a4 or letter)", name));
}

Secret render_share_card(const ShareCard& card, const Secret& mnemonic) {
  const std::vector<std::string_view> words = words_of(mnemonic);
  if (words.empty()) fail(Category::usage, "a share card needs the share's words");
  const PageSize page = page_size(card.paper);
  PdfSink sink;
  cairo_surface_t* surface =
      cairo_pdf_surface_create_for_stream(&PdfSink::write, &sink, page.width, page.height);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE,
                                 ("hsmctl share card: " + card.custodian).c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "hsmctl");
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 0, 0, 0);

  double y = kMargin + 18;
  font(cr, "DejaVu Sans", 18, true);
  text_at(cr, kMargin, y, "hsmctl master secret share");
  y += 26;
  font(cr, "DejaVu Sans", 13, true);
  text_at(cr, kMargin, y, "Custodian: " + card.custodian);
  y += 22;
  font(cr, "DejaVu Sans", 10);
  for (const std::string& line :
       {set_line(card), quorum_line(card),
        fmt::format("Workspace: {}    key check value (KCV): {}", card.workspace, card.kcv),
        "Issued: " + card.issued}) {
    text_at(cr, kMargin, y, line);
    y += 15;
  }

  // The words, numbered, down each column in turn.
  y += 18;
  font(cr, "DejaVu Sans Mono", 12);
  const std::size_t rows = (words.size() + kWordColumns - 1) / kWordColumns;
  const double column = (page.width - 2 * kMargin) / kWordColumns;
  for (std::size_t i = 0; i < words.size(); ++i) {
    // Each word is drawn from a locked copy: cairo wants a NUL-terminated string.
    const std::string_view w = words[i];
    Secret cell(w.size() + 8);
    const auto n = fmt::format_to_n(reinterpret_cast<char*>(cell.data()), cell.size() - 1,
                                    "{:2}. {}", i + 1, w);
    cell.data()[std::min(n.size, cell.size() - 1)] = 0;
    cairo_move_to(cr, kMargin + column * static_cast<double>(i / rows),
                  y + kWordLine * static_cast<double>(i % rows));
    cairo_show_text(cr, reinterpret_cast<const char*>(cell.data()));
  }
  y += kWordLine * static_cast<double>(rows) + 10;

  draw_qr(cr, mnemonic, kMargin, y, kQrSize);
  cairo_set_source_rgb(cr, 0, 0, 0);
  font(cr, "DejaVu Sans", 9);
  const double tx = kMargin + kQrSize + 20;
  double ty = y + 20;
  for (const char* line : {
           "The QR code holds the same words as above.",
           "",
           "Keep this card where only you can reach it.",
           "Do not photograph, scan or copy it on a networked device.",
           "Fewer cards than the quorum reveal nothing about the master.",
           "",
           "To check the card: hsmctl master verify-share",
           "(type the words; the KCV above names the master).",
           "When the set is replaced (master reshare), destroy it.",
       }) {
    text_at(cr, tx, ty, line);
    ty += 13;
  }

  cairo_show_page(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  const cairo_status_t status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS)
    fail(Category::general, std::string("drawing the share card failed: ") +
                                cairo_status_to_string(status));
  return sink.take();
}

}  // namespace hsm::print
