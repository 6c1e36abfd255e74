// The tlog-proof@v1 text form: lines separated by U+000A, proof hashes in standard base64, an
// empty line, then the checkpoint note verbatim.
#include "core/tlog/proof.h"

#include <fmt/format.h>

#include <charconv>

#include "core/error.h"

namespace hsm::tlog {

namespace {

// The next line of `rest` (without its newline), consuming it; nullopt when no newline is left.
std::optional<std::string_view> next_line(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return line;
}

[[noreturn]] void malformed(const std::string& what) {
  fail(Category::integrity, "malformed tlog-proof: " + what);
}

}  // namespace

std::string InclusionProofText::format() const {
  std::string out = std::string(kProofHeader) + "\n";
  if (extra) out += "extra " + hsm::to_base64(*extra) + "\n";
  out += fmt::format("index {}\n", index);
  for (const Hash& h : proof) out += to_base64(h) + "\n";
  return out + "\n" + checkpoint.format();
}

InclusionProofText parse_inclusion_proof(std::string_view text) {
  InclusionProofText p;
  std::string_view rest = text;
  auto line = next_line(rest);
  if (!line || *line != kProofHeader)
    malformed(fmt::format("the first line is not '{}'", kProofHeader));
  line = next_line(rest);
  if (line && line->starts_with("extra ")) {
    try {
      p.extra = from_base64(line->substr(6));
    } catch (const Error&) {
      malformed("the extra line is not base64");
    }
    line = next_line(rest);
  }
  if (!line || !line->starts_with("index ")) malformed("no 'index N' line");
  const std::string_view digits = line->substr(6);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.index);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
      (digits.size() > 1 && digits[0] == '0'))
    malformed("the index is not a decimal number without leading zeros");
  for (;;) {
    line = next_line(rest);
    if (!line) malformed("no empty line before the checkpoint");
    if (line->empty()) break;
    if (p.proof.size() >= 64) malformed("more than 64 proof hashes");
    try {
      p.proof.push_back(hash_from_base64(*line));
    } catch (const Error&) {
      malformed(fmt::format("proof line {} is not a base64 SHA-256 hash", p.proof.size() + 1));
    }
  }
  p.checkpoint = parse_note(rest);
  return p;
}

}  // namespace hsm::tlog
