// Two master inits writing into one --shares-out directory at once (two workspaces, two
// tokens): the one that loses the race removes only what it created, so the winner's share
// files survive intact and restore its master. A symbolic link at a share file's path, even a
// dangling one, is refused before anything is made, and left alone.
#include <filesystem>

#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class SharesOut : public HsmTest {
 protected:
  // Each run has a SoftHSM of its own: SoftHSM 2.6.1 rewrites a token's file at login, and a
  // process reading the same token directory meanwhile gets CKR_GENERAL_ERROR.
  std::map<std::string, std::string> env_for(const SoftHsm& hsm, const std::string& token,
                                             const fs::path& ws) {
    auto env = base_env();
    env["SOFTHSM2_CONF"] = hsm.conf().string();
    env["HSMCTL_TOKEN"] = token;
    env["HSMCTL_DIR"] = ws.string();
    return env;
  }
};

TEST_F(SharesOut, TwoInitsRacingIntoOneDirectoryLeaveTheWinnersSharesIntact) {
  const fs::path shares = tmp_.path() / "shares";
  const fs::path ws1 = tmp_.path() / "ws1", ws2 = tmp_.path() / "ws2";
  SoftHsm hsm_one(tmp_.path() / "softhsm-one"), hsm_two(tmp_.path() / "softhsm-two");
  hsm_one.init_token("one");
  hsm_two.init_token("two");
  hsm_.init_token("spare");
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (const auto& d : {shares, ws1, ws2}) {
      fs::remove_all(d);
      make_private_dir(d);
    }
    if (round > 0) {  // fresh tokens: the last round's winner holds a master
      const std::pair<SoftHsm*, const char*> tokens[] = {{&hsm_one, "one"}, {&hsm_two, "two"}};
      for (const auto& [hsm, t] : tokens) {
        const RunResult del = run_program({"/usr/bin/softhsm2-util", "--delete-token", "--token", t},
                                          hsm->env());
        ASSERT_EQ(del.code, 0) << del.err;
        hsm->init_token(t);
      }
    }
    const std::vector<std::string> args{HSMCTL_BINARY, "master", "init", "--threshold", "2",
                                        "--custodians", "a,b,c", "--shares-out", shares.string()};
    LiveProcess first(args, env_for(hsm_one, "one", ws1), false);
    LiveProcess second(args, env_for(hsm_two, "two", ws2), false);
    const RunResult r1 = first.finish(), r2 = second.finish();
    ASSERT_TRUE((r1.code == 0) != (r2.code == 0)) << r1.code << " " << r1.err << "\n"
                                                  << r2.code << " " << r2.err;
    const RunResult& lost = r1.code == 0 ? r2 : r1;
    expect_failure(lost, 7, "already exists");
    const fs::path winner_ws = r1.code == 0 ? ws1 : ws2;

    // Every share file of the winner is there, whole, and only those.
    int files = 0;
    for (const auto& e : fs::directory_iterator(shares)) {
      ++files;
      EXPECT_TRUE(e.is_regular_file()) << e.path();
    }
    EXPECT_EQ(files, 3);
    // They restore the winner's master (KCV checked against its workspace) on a spare token.
    if (round > 0) {
      const RunResult del = run_program({"/usr/bin/softhsm2-util", "--delete-token", "--token",
                                         "spare"}, hsm_.env());
      ASSERT_EQ(del.code, 0) << del.err;
      hsm_.init_token("spare");
    }
    const RunResult restored =
        hsmctl({"--token", "spare", "--dir", winner_ws.string(), "master", "restore",
                "--shares-file", (shares / "a.share").string(), "--shares-file",
                (shares / "c.share").string(), "--json"});
    ASSERT_EQ(restored.code, 0) << restored.err;
    EXPECT_TRUE(restored.json()["kcv_checked"].get<bool>());
  }
}

TEST_F(SharesOut, ASymbolicLinkAtASharePathIsRefusedUpFrontAndLeftAlone) {
  const fs::path shares = tmp_.path() / "shares";
  make_private_dir(shares);
  const fs::path target = tmp_.path() / "elsewhere.txt";
  fs::create_symlink(target, shares / "b.share");  // dangling: its target does not exist
  const RunResult r = hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                              "--shares-out", shares.string()});
  expect_failure(r, 7, "symbolic link");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(shares / "b.share")));
  EXPECT_FALSE(fs::exists(shares / "a.share"));
  EXPECT_FALSE(fs::exists(target));
  // Refused before the ceremony began: no workspace was started, so no master record either.
  EXPECT_FALSE(fs::exists(ws_ / "keystore.sqlite"));

  // A link to an existing file is refused the same way, and the file is not touched.
  fs::remove(shares / "b.share");
  write_file("elsewhere.txt", "not a share\n");
  fs::create_symlink(target, shares / "b.share");
  expect_failure(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                         "--shares-out", shares.string()}),
                 7, "symbolic link");
  EXPECT_EQ(read_file(target), "not a share\n");
}

}  // namespace
}  // namespace hsm::test
