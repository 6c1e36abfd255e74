// user provision starts no program, itself included: under strace -f, a --jobs 2 run (a parent
// and two forked workers) shows exactly one execve, the one that started hsmctl, whatever
// GLIBC_TUNABLES says; and the users are made.
#include <cstdlib>
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class ProvisionExec : public HsmTest {
 protected:
  void SetUp() override { ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0); }

  // Provisions three users under strace -f; returns every execve line it logged.
  std::vector<std::string> provision_traced(const std::string& tag,
                                            const std::map<std::string, std::string>& extra = {}) {
    std::string csv = "name,password\n";
    for (int i = 0; i < 3; ++i) csv += tag + std::to_string(i) + ",password-of-" + tag + "\n";
    const auto file = write_file(tag + ".csv", csv, 0600);
    const auto log = tmp_.path() / (tag + ".strace");
    const std::vector<std::string> argv{
        "/usr/bin/strace", "-f", "-s", "256", "-e", "trace=execve,execveat", "-o", log.string(),
        HSMCTL_BINARY, "user", "provision", "--from", file.string(), "--kdf-profile", "min",
        "--jobs", "2", "--json"};
    auto env = base_env();
    // LeakSanitizer cannot run under ptrace: the ASan build's hsmctl would abort at exit.
    const char* asan = std::getenv("ASAN_OPTIONS");
    env["ASAN_OPTIONS"] = std::string(asan != nullptr ? asan : "") + ":detect_leaks=0";
    for (const auto& [k, v] : extra) env[k] = v;
    const RunResult r = run_program(argv, env);
    EXPECT_EQ(r.code, 0) << r.err;
    const auto summary = nlohmann::json::parse(r.out.substr(r.out.rfind("{\"summary\"")));
    EXPECT_EQ(summary["summary"]["created"], 3) << r.out;
    EXPECT_EQ(summary["summary"]["jobs"], 2) << r.out;
    std::ifstream in(log);
    std::vector<std::string> execs;
    for (std::string line; std::getline(in, line);)
      if (line.find("execve(") != std::string::npos || line.find("execveat(") != std::string::npos)
        execs.push_back(line);
    return execs;
  }
};

TEST_F(ProvisionExec, StartsNoProgramNotEvenItself) {
  const auto execs = provision_traced("plain");
  ASSERT_EQ(execs.size(), 1u) << "only the start; the second: "
                              << (execs.size() > 1 ? execs[1] : "");
  EXPECT_NE(execs[0].find(std::string("execve(\"") + HSMCTL_BINARY + "\""), std::string::npos)
      << execs[0];
  EXPECT_NE(execs[0].find("= 0"), std::string::npos) << execs[0];
}

TEST_F(ProvisionExec, GlibcTunablesChangeNothing) {
  const auto execs = provision_traced("tuned", {{"GLIBC_TUNABLES", "glibc.malloc.perturb=0"}});
  EXPECT_EQ(execs.size(), 1u) << "only the start";
}

}  // namespace
}  // namespace hsm::test
