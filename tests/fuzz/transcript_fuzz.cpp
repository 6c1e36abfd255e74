// Fuzz target for the transcript reader: the whole input is a transcript file. Each line that
// parses as an entry must be written back byte for byte (one text per entry), and the offline
// verifier must report on any file without throwing, with a report that agrees with itself
// (one that verifies never ends in an unsigned entry: deferred signatures).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/verify.h"
#include "tests/fuzz/fuzz.h"

namespace hsm::transcript {
namespace {

using fuzz::expect;

// Returns the hash of the first line that is a well-formed entry, or "".
std::string check_lines(std::string_view content) {
  std::string first_hash;
  while (!content.empty()) {
    const std::size_t nl = content.find('\n');
    const std::string_view line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view{} : content.substr(nl + 1);
    try {
      const Entry e = entry_from_json(parse_canonical_line(line));
      expect(to_line(e) == line, "to_line(entry_from_json(line)) == line");
      if (first_hash.empty()) first_hash = e.hash;
    } catch (const Error&) {
    }
  }
  return first_hash;
}

void check_report(std::string_view content, const VerifyReport& r) {
  expect(r.ok != r.bad_seq.has_value(), "a report is either ok or names a bad seq");
  expect(r.ok || !r.reason.empty(), "a failed report says why");
  expect(!r.torn_last_line || !r.ok, "a torn last line never verifies");
  expect(r.unsigned_entries <= r.entries || !r.ok, "covered entries are among those verified");
  if (r.ok) {
    expect(r.entries > 0 && r.entries <= content.size(), "entries counted");
    expect(r.head.size() == 64, "an ok report names the head");
    expect(content.back() == '\n', "an ok transcript ends with a newline");
    // Deferred signatures: a transcript that verifies never ends in an unsigned entry.
    const std::string_view body = content.substr(0, content.size() - 1);
    const std::size_t last_nl = body.rfind('\n');
    const Entry last = entry_from_json(parse_canonical_line(
        last_nl == std::string_view::npos ? body : body.substr(last_nl + 1)));
    expect(!last.sig.empty(), "an ok transcript's last entry is signed");
  }
}

}  // namespace
}  // namespace hsm::transcript

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm::transcript;
  const std::string_view content = hsm::fuzz::as_text(data, size);
  const std::string first_hash = check_lines(content);

  check_report(content, verify_transcript(content, {}));
  VerifyOptions strict;
  strict.strict = true;
  strict.head = first_hash.empty() ? kZeroHash : first_hash;
  check_report(content, verify_transcript(content, strict));
  return 0;
}
