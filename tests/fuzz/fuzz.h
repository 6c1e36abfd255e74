// Shared by the libFuzzer targets in this directory: the entry point every target defines and
// the oracle that turns a broken property into a crash. A target may throw only hsm::Error for
// bad input; anything else (another exception, a failed property, a sanitizer report) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace hsm::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property every accepted input must have. Aborts (a libFuzzer crash) naming it.
inline void expect(bool holds, const char* property) {
  if (holds) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", property);
  std::abort();
}

}  // namespace hsm::fuzz
