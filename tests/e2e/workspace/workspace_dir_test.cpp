// --dir: only the ceremonies that start a workspace (token init, master init, master restore,
// backup restore) make one; every other command on a directory that is not a workspace is
// refused with exit 7 before it asks for anything, and leaves the directory as it was.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;


// Read-only commands and ceremonies that need an existing workspace.
const std::vector<std::vector<std::string>> kNeedAWorkspace = {
    {"user", "list"},
    {"user", "show", "alice"},
    {"key", "list"},
    {"key", "show", "root"},
    {"group", "list"},
    {"master", "status"},
    {"transcript", "show"},
    {"transcript", "verify"},
    {"transcript", "head"},
    {"transcript", "export-key"},
    {"transcript", "note", "--witness", "w", "text"},
    {"doctor"},
    {"key", "generate", "k", "--algo", "ec-p256", "--purpose", "code"},
};

class WorkspaceDir : public HsmTest {
 protected:
  void expect_refused(const fs::path& dir);
};

void WorkspaceDir::expect_refused(const fs::path& dir) {
  for (const auto& cmd : kNeedAWorkspace) {
    std::vector<std::string> args{"--dir", dir.string()};
    args.insert(args.end(), cmd.begin(), cmd.end());
    SCOPED_TRACE(cmd.front() + (cmd.size() > 1 ? " " + cmd[1] : std::string()));
    // A PIN source that cannot be read: the refusal comes before anything is asked.
    const RunResult r = hsmctl(args, {{"HSMCTL_PIN_SOURCE", "env:NO_SUCH_PIN"}});
    expect_failure(r, 7, "'" + dir.string() + "' is not an hsmctl workspace");
  }
}

TEST_F(WorkspaceDir, CommandsOnAMissingDirectoryExit7AndCreateNothing) {
  const fs::path missing = tmp_.path() / "no" / "such" / "ws";
  expect_refused(missing);
  EXPECT_FALSE(fs::exists(tmp_.path() / "no"));
}

TEST_F(WorkspaceDir, CommandsOnAnEmptyDirectoryExit7AndLeaveItEmpty) {
  const fs::path empty = tmp_.path() / "empty";
  make_private_dir(empty);
  expect_refused(empty);
  EXPECT_TRUE(fs::is_empty(empty)) << fs::directory_iterator(empty)->path();
}

TEST_F(WorkspaceDir, TokenQueriesNeedNoWorkspaceAndMakeNone) {
  const fs::path missing = tmp_.path() / "nothing-here";
  const fs::path empty = tmp_.path() / "empty";
  make_private_dir(empty);
  for (const fs::path& dir : {missing, empty}) {
    EXPECT_EQ(hsmctl({"--dir", dir.string(), "token", "list"}).code, 0);
    EXPECT_EQ(hsmctl({"--dir", dir.string(), "token", "info"}).code, 0);
    EXPECT_EQ(hsmctl({"--dir", dir.string(), "token", "objects"}).code, 0);
  }
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(fs::is_empty(empty));
}

TEST_F(WorkspaceDir, StartingCeremoniesMakeTheWorkspace) {
  // master init makes a missing directory a workspace...
  const fs::path a = tmp_.path() / "new" / "a";
  const fs::path shares = tmp_.path() / "shares";
  make_private_dir(shares);
  ASSERT_EQ(hsmctl({"--dir", a.string(), "master", "init", "--threshold", "2", "--custodians",
                    "x,y", "--shares-out", shares.string()}).code, 0);
  EXPECT_TRUE(fs::exists(a / "keystore.sqlite"));
  EXPECT_EQ(hsmctl({"--dir", a.string(), "user", "list"}).code, 0);
  // ...and so does token init, which doctor then accepts as one.
  const fs::path b = tmp_.path() / "new" / "b";
  const RunResult init = hsmctl({"--dir", b.string(), "token", "init", "--label", "fresh",
                                 "--so-pin-source", "env:SO"}, {{"SO", kSoPin}});
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_TRUE(fs::exists(b / "keystore.sqlite"));
  EXPECT_TRUE(fs::exists(b / "transcript.jsonl"));
  const RunResult doctor = hsmctl({"--dir", b.string(), "--token", "fresh", "doctor", "--offline"});
  EXPECT_EQ(doctor.err.find("not an hsmctl workspace"), std::string::npos) << doctor.err;
  EXPECT_EQ(hsmctl({"--dir", b.string(), "transcript", "verify", "--strict"}).code, 0);
}

TEST_F(WorkspaceDir, ATranscriptFileGivenByNameNeedsNoWorkspace) {
  const fs::path shares = tmp_.path() / "shares";
  make_private_dir(shares);
  ASSERT_EQ(master_init(shares).code, 0);
  const std::string file = (ws_ / "transcript.jsonl").string();
  const fs::path elsewhere = tmp_.path() / "elsewhere";
  for (const char* sub : {"verify", "show", "head", "export-key"})
    EXPECT_EQ(hsmctl({"--dir", elsewhere.string(), "transcript", sub, file}).code, 0) << sub;
  EXPECT_FALSE(fs::exists(elsewhere));
}

}  // namespace
}  // namespace hsm::test
