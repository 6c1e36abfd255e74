// Fuzz target for the SLIP-0039 mnemonic reader and share combiner: each input line is one
// mnemonic. Every line that parses must write back to a mnemonic that parses to the same share;
// the parsed shares are then combined (without the passphrase step, whose cost is public).
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/shamir/slip39.h"
#include "tests/fuzz/fuzz.h"

namespace hsm::slip39 {
namespace {

using fuzz::expect;

bool same_share(const Share& a, const Share& b) {
  return a.header == b.header && a.value.equals(b.value);
}

void round_trip(const Share& share) {
  const Secret written = to_mnemonic(share);  // an accepted share must be writable
  const Share again = parse_mnemonic(written);
  expect(same_share(share, again), "parse(to_mnemonic(parse(m))) == parse(m)");
  expect(to_mnemonic(again).equals(written), "to_mnemonic is stable");
}

}  // namespace
}  // namespace hsm::slip39

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm;
  using namespace hsm::slip39;
  std::string_view rest = fuzz::as_text(data, size);
  std::vector<Share> shares;
  while (!rest.empty() && shares.size() < 32) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    try {
      Share share = parse_mnemonic(Secret::copy_of(line));
      round_trip(share);
      shares.push_back(std::move(share));
    } catch (const Error&) {
      // A refused mnemonic: the message was checked not to quote it by the unit tests.
    }
  }
  if (shares.empty()) return 0;
  try {
    const EncryptedMasterSecret ems = recover_ems(shares);
    const Share& first = shares.front();
    fuzz::expect(ems.identifier == first.header.identifier &&
                     ems.extendable == first.header.extendable &&
                     ems.iteration_exponent == first.header.iteration_exponent &&
                     ems.value.size() == first.value.size(),
                 "recover_ems keeps the share set's parameters and length");
  } catch (const Error&) {
  }
  return 0;
}
