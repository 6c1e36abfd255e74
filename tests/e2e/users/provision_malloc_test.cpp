// user provision re-executes itself once with a larger glibc malloc cache (cmd/batch_malloc.h):
// strace shows the one execve of /proc/self/exe and the environment it passes; a value the user
// set is kept and means no re-execution; other tunables are kept beside ours; the started
// process never starts another; and the users are made either way.
#include <cstdlib>
#include <fstream>
#include <map>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class ProvisionMalloc : public HsmTest {
 protected:
  void SetUp() override { ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0); }

  // Provisions three users under strace; returns the successful execve lines it logged.
  std::vector<std::string> provision_traced(const std::string& tag, const std::string& tunables,
                                            const std::map<std::string, std::string>& extra = {}) {
    std::string csv = "name,password\n";
    for (int i = 0; i < 3; ++i) csv += tag + std::to_string(i) + ",password-of-" + tag + "\n";
    const auto file = write_file(tag + ".csv", csv, 0600);
    const auto log = tmp_.path() / (tag + ".strace");
    const std::vector<std::string> argv{
        "/usr/bin/strace", "-f", "-v", "-s", "256", "-e", "trace=execve", "-o", log.string(),
        HSMCTL_BINARY, "user", "provision", "--from", file.string(), "--kdf-profile", "min",
        "--jobs", "2", "--json"};
    auto env = base_env();
    // LeakSanitizer cannot run under ptrace: the ASan build's hsmctl would abort at exit.
    const char* asan = std::getenv("ASAN_OPTIONS");
    env["ASAN_OPTIONS"] = std::string(asan != nullptr ? asan : "") + ":detect_leaks=0";
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> unset;
    if (extra.count("HSMCTL_MALLOC_REEXEC") == 0) unset.push_back("HSMCTL_MALLOC_REEXEC");
    if (tunables.empty()) unset.push_back("GLIBC_TUNABLES");
    else env["GLIBC_TUNABLES"] = tunables;
    const RunResult r = run_program(argv, env, {}, unset);
    EXPECT_EQ(r.code, 0) << r.err;
    const auto summary = nlohmann::json::parse(r.out.substr(r.out.rfind("{\"summary\"")));
    EXPECT_EQ(summary["summary"]["created"], 3) << r.out;
    std::ifstream in(log);
    std::vector<std::string> execs;
    for (std::string line; std::getline(in, line);)
      if (line.find("execve(") != std::string::npos && line.find("= 0") != std::string::npos)
        execs.push_back(line);
    return execs;
  }
};

TEST_F(ProvisionMalloc, ReexecutesOnceWithALargerTcache) {
  const auto execs = provision_traced("plain", "");
  ASSERT_EQ(execs.size(), 2u) << "the start, then /proc/self/exe";
  EXPECT_NE(execs[1].find("execve(\"/proc/self/exe\""), std::string::npos) << execs[1];
  EXPECT_NE(execs[1].find("\"GLIBC_TUNABLES=glibc.malloc.tcache_count=256\""), std::string::npos)
      << execs[1];
  EXPECT_NE(execs[1].find("\"HSMCTL_MALLOC_REEXEC=1\""), std::string::npos) << execs[1];
  EXPECT_NE(execs[1].find("\"user\", \"provision\""), std::string::npos) << execs[1];
}

TEST_F(ProvisionMalloc, KeepsOtherTunablesBesideItsOwn) {
  const auto execs = provision_traced("other", "glibc.malloc.perturb=0");
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_NE(execs[1].find("\"GLIBC_TUNABLES=glibc.malloc.perturb=0:glibc.malloc.tcache_count=256\""),
            std::string::npos)
      << execs[1];
}

TEST_F(ProvisionMalloc, AValueTheUserSetIsKeptAndNothingIsReexecuted) {
  const auto execs = provision_traced("chosen", "glibc.malloc.tcache_count=7");
  EXPECT_EQ(execs.size(), 1u) << "only the start";
}

TEST_F(ProvisionMalloc, TheStartedProcessNeverStartsAnother) {
  // Whatever its GLIBC_TUNABLES says (glibc drops tunables in secure-execution mode), the
  // process hsmctl started itself runs the command.
  const auto execs = provision_traced("marked", "", {{"HSMCTL_MALLOC_REEXEC", "1"}});
  EXPECT_EQ(execs.size(), 1u) << "only the start";
}

}  // namespace
}  // namespace hsm::test
