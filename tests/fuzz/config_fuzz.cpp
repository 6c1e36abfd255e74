// Fuzz target for the hsmctl.toml reader: any text either yields a configuration within the
// documented bounds or an hsm::Error naming the problem; never another exception or a crash.
#include <string_view>

#include "core/config/config.h"
#include "core/error.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hsm;
  try {
    const WorkspaceConfig c = parse_config(fuzz::as_text(data, size), "hsmctl.toml");
    if (c.max_auth_failures) {
      fuzz::expect(*c.max_auth_failures >= 1 && *c.max_auth_failures <= 1000,
                   "users.max_auth_failures within 1..1000");
    }
  } catch (const Error&) {
  }
  return 0;
}
