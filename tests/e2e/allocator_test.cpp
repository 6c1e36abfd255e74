// hsmctl's allocator (HSMCTL_ALLOCATOR, chosen in CMakeLists.txt): in the normal build jemalloc
// is linked into the executable, and the dynamic loader's own record (LD_DEBUG=bindings) shows
// that SoftHSM, which hsmctl loads at run time, and OpenSSL allocate through it too; in the ASan
// build nothing replaces ASan's allocator and jemalloc appears nowhere.
#include <fstream>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class Allocator : public HsmTest {
 protected:
  // Runs `master init` (which loads SoftHSM and makes keys) with the loader logging every symbol
  // binding; returns that log.
  std::string bindings_of_master_init() {
    const fs::path log = tmp_.path() / "ld";
    const RunResult r = hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                                "--shares-out", (tmp_.path() / "shares").string()},
                               {{"LD_DEBUG", "bindings"}, {"LD_DEBUG_OUTPUT", log.string()}});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string all;
    for (const auto& e : fs::directory_iterator(tmp_.path()))
      if (e.path().filename().string().rfind("ld.", 0) == 0) all += read_file(e.path());
    return all;
  }

  // The library `file` binds `symbol` to, from the log ("" when not logged).
  static std::string bound_to(const std::string& log, const std::string& file,
                              const std::string& symbol) {
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      const auto from = line.find("binding file ");
      if (from == std::string::npos || line.find(file, from) == std::string::npos) continue;
      if (line.find("symbol `" + symbol + "'") == std::string::npos) continue;
      const auto to = line.find(" to ");
      return line.substr(to + 4, line.find(' ', to + 4) - to - 4);
    }
    return "";
  }
};

TEST_F(Allocator, TheModuleAndOpenSslAllocateThroughHsmctlsAllocator) {
  make_private_dir(tmp_.path() / "shares");
  fs::permissions(tmp_.path() / "shares", fs::perms::owner_all);
  const std::string log = bindings_of_master_init();
  ASSERT_NE(log.find("libsofthsm2.so"), std::string::npos) << "SoftHSM was not loaded";
  const std::string module_new = bound_to(log, "libsofthsm2.so", "_Znwm");  // operator new
  const std::string crypto_malloc = bound_to(log, "libcrypto.so", "malloc");
  if (std::string(HSMCTL_ALLOCATOR) == "jemalloc") {
    EXPECT_NE(module_new.find("libjemalloc.so"), std::string::npos) << module_new;
    EXPECT_NE(crypto_malloc.find("libjemalloc.so"), std::string::npos) << crypto_malloc;
  } else {
    EXPECT_EQ(log.find("libjemalloc"), std::string::npos) << "an allocator in a build without one";
  }
}

}  // namespace
}  // namespace hsm::test
