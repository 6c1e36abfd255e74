// Interrupting user provision mid-batch (SIGINT to its process group, as Ctrl-C at a terminal
// sends it), in one process and with --jobs 2 workers: the users stored so far are kept, the
// summary says created / skipped / failed / not done and what to rerun, ceremony.aborted closes
// the batch in the transcript with the same counts, the workers are gone, exit 130; running the
// same command again finishes the batch.
#include <signal.h>

#include <filesystem>
#include <sstream>

#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ProvisionInterrupt : public HsmTest {
 protected:
  void SetUp() override { ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0); }

  std::vector<nlohmann::json> lines_of(const std::string& text) {
    std::vector<nlohmann::json> v;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
  }

  void interrupt_and_rerun(const std::vector<std::string>& extra) {
    // The default KDF profile (about 0.1 s a user): the first chunk is stored after a second,
    // long before the last row.
    constexpr int kRows = 60;
    std::string csv = "name,password\n";
    for (int i = 0; i < kRows; ++i) csv += "p" + std::to_string(i) + ",password-number-" + std::to_string(i) + "\n";
    const fs::path from = write_file("batch.csv", csv);
    // Two users exist already: the summary counts them as skipped.
    for (const char* name : {"p0", "p1"})
      ASSERT_EQ(hsmctl({"user", "create", name, "--kdf-profile", "min", "--password-source",
                        "env:PW"}, {{"PW", "a-long-enough-password"}}).code, 0);

    std::vector<std::string> argv{HSMCTL_BINARY, "--json", "user", "provision", "--from",
                                  from.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    LiveProcess p(argv, base_env(), false);
    // The first stored chunk shows as "created" lines; then Ctrl-C.
    ASSERT_TRUE(p.wait_for("\"status\":\"created\"", 0, 120s)) << p.shown();
    p.signal_group(SIGINT);
    const RunResult r = p.finish();
    EXPECT_EQ(r.code, 130) << r.out << r.err;

    const auto lines = lines_of(r.out);
    ASSERT_FALSE(lines.empty());
    const nlohmann::json summary = lines.back()["summary"];
    ASSERT_TRUE(summary.is_object()) << r.out;
    EXPECT_TRUE(summary["interrupted"].get<bool>());
    const int created = summary["created"], skipped = summary["skipped"],
              failed = summary["failed"], not_done = summary["not_done"];
    EXPECT_EQ(skipped, 2);
    EXPECT_EQ(failed, 0);
    EXPECT_GT(created, 0);
    EXPECT_GT(not_done, 0) << "the batch finished before the interrupt: make it longer";
    EXPECT_EQ(created + skipped + failed + not_done, kRows);
    int created_lines = 0;
    for (const auto& j : lines) created_lines += j.value("status", "") == "created";
    EXPECT_EQ(created_lines, created);

    // One line on stderr: what was kept and the command to run again.
    const auto err = r.err_lines();
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_EQ(err[0].rfind("hsmctl: error: user provision aborted by SIGINT", 0), 0u) << err[0];
    EXPECT_NE(err[0].find("run the same command again"), std::string::npos) << err[0];

    // Exactly the users reported are stored; no worker is left.
    const nlohmann::json listed = hsmctl({"user", "list", "--json"}).json();
    EXPECT_EQ(static_cast<int>(listed["users"].size()), created + skipped);
    EXPECT_EQ(run_program({"/usr/bin/pgrep", "-s", std::to_string(p.pid())}).code, 1);

    // The batch is closed in the transcript with the same counts; it verifies, doctor agrees.
    std::istringstream transcript(read_file(ws_ / "transcript.jsonl"));
    nlohmann::json last;
    for (std::string line; std::getline(transcript, line);)
      if (!line.empty()) last = nlohmann::json::parse(line);
    EXPECT_EQ(last["event"], "ceremony.aborted") << last.dump();
    EXPECT_EQ(last["data"]["what"], "user.provision");
    EXPECT_EQ(last["data"]["signal"], "SIGINT");
    EXPECT_EQ(last["data"]["created"], created);
    EXPECT_EQ(last["data"]["not_done"], not_done);
    EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
    const RunResult doctor = hsmctl({"doctor"});
    EXPECT_EQ(doctor.code, 0) << doctor.out;

    // The same command finishes the batch.
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    const RunResult again = hsmctl(args);
    ASSERT_EQ(again.code, 0) << again.err;
    const nlohmann::json done = lines_of(again.out).back()["summary"];
    EXPECT_EQ(done["created"], not_done);
    EXPECT_EQ(done["skipped"], created + skipped);
    EXPECT_FALSE(done["interrupted"].get<bool>());
    EXPECT_EQ(hsmctl({"user", "list", "--json"}).json()["users"].size(),
              static_cast<std::size_t>(kRows));
  }
};

TEST_F(ProvisionInterrupt, CtrlCMidBatchSummarisesKeepsWhatIsStoredAndARerunFinishes) {
  interrupt_and_rerun({});
}

TEST_F(ProvisionInterrupt, CtrlCWithWorkersStopsThemAndARerunFinishes) {
  interrupt_and_rerun({"--jobs", "2"});
}

}  // namespace
}  // namespace hsm::test
