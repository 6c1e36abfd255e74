// Fuzz target for the user provision file parser (CSV with quoting, JSONL): the first byte picks
// the format, the rest is the file. Any text yields rows and rejected rows or an hsm::Error;
// every accepted row has a valid, unique name, a known algorithm and a non-empty password.
#include <set>
#include <string>

#include "ceremonies/users/user_provision.h"
#include "core/error.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm;
  if (size == 0) return 0;
  const std::string format = (data[0] & 1) != 0 ? "csv" : "jsonl";  // seeds: 'c' or 'j'
  Secret text = Secret::copy_of(fuzz::as_text(data + 1, size - 1));
  try {
    const ProvisionInput in = parse_provision_text(text, format, "p256", "fuzz");
    std::set<std::string> names;
    std::size_t last_line = 0;
    for (const auto& r : in.rows) {
      fuzz::expect(!r.name.empty() && r.name.size() <= 64, "a row's name is 1-64 bytes");
      fuzz::expect(names.insert(r.name).second, "no name is accepted twice");
      fuzz::expect(!r.password.empty(), "no row has an empty password");
      fuzz::expect(r.algorithm == "p256" || r.algorithm == "p384", "a known algorithm");
      fuzz::expect(r.line > last_line, "rows come in line order");
      last_line = r.line;
    }
    for (const auto& r : in.rejected) fuzz::expect(!r.message.empty(), "a rejection says why");
  } catch (const Error&) {
  }
  return 0;
}
