// Fuzz target for the backup file parser: envelope then body. Any bytes are either refused with
// an hsm::Error or parse to contents that survive a round trip: the envelope reassembles to the
// very bytes given, and the body re-serialises to a document that parses to the same.
#include <string>

#include "core/backup/format.h"
#include "core/error.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm;
  const ByteView file(data, size);
  backup::Envelope env;
  try {
    env = backup::parse_envelope(file);
  } catch (const Error&) {
    return 0;
  }
  const Bytes again = backup::assemble(env.body, env.tag);
  fuzz::expect(again == Bytes(file.begin(), file.end()), "an accepted envelope is canonical");
  fuzz::expect(env.tag.size() == backup::kTagSize, "the tag is 32 bytes");
  try {
    const backup::Contents c = backup::parse_body(env.body);
    const std::string body = backup::serialise_body(c);
    const backup::Contents c2 = backup::parse_body(body);
    fuzz::expect(backup::serialise_body(c2) == body, "the body round-trips");
    fuzz::expect(c2.keys == c.keys, "the keys round-trip");
  } catch (const Error&) {
  }
  return 0;
}
