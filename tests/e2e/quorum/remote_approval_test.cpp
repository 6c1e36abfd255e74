// quorum request | approve | show: a backup made while the host waits for approvals that
// custodians write on machines of their own (separate workspaces, no token), a grouped share
// set approved group by group, and each bad approval refused with one line, recorded, and the
// wait going on until the quorum or the expiry.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {
namespace {

class RemoteApproval : public HsmTest {
 protected:
  void SetUp() override { shares_ = tmp_.path() / "shares"; }
  void init_three_of_four() {
    make_private_dir(shares_);
    const RunResult r = hsmctl({"master", "init", "--threshold", "3", "--custodians",
                                "a,b,c,d", "--shares-out", shares_.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(hsmctl({"key", "generate", "root", "--algo", "ec-p256", "--purpose", "ca"}).code, 0);
  }
  // The host: `quorum request` running `backup create` in the background, once its request
  // is written.
  std::unique_ptr<LiveProcess> host(const std::filesystem::path& dir, const std::string& out,
                                    const std::string& expires = "5m") {
    return host_of(dir, {"backup", "create", "--out", out}, expires);
  }
  std::unique_ptr<LiveProcess> host_of(const std::filesystem::path& dir,
                                       const std::vector<std::string>& command,
                                       const std::string& expires = "5m") {
    std::vector<std::string> argv{HSMCTL_BINARY, "quorum", "request", "--request-dir",
                                  dir.string(), "--expires", expires, "--"};
    argv.insert(argv.end(), command.begin(), command.end());
    auto p = std::make_unique<LiveProcess>(argv, base_env(), false);
    EXPECT_TRUE(p->wait_for_stderr("request digest")) << p->finish().err;
    return p;
  }
  // A custodian's own machine: a workspace directory of its own, no token, no module.
  RunResult approve(const std::string& custodian, const std::filesystem::path& request,
                    const std::filesystem::path& out, const std::filesystem::path& share = {}) {
    const auto home = tmp_.path() / ("custodian-" + custodian);
    std::filesystem::create_directories(home);
    const auto share_file = share.empty() ? shares_ / (custodian + ".share") : share;
    return run_program({HSMCTL_BINARY, "--yes", "quorum", "approve", request.string(), "--out",
                        out.string(), "--share-file", share_file.string()},
                       {{"HSMCTL_DIR", home.string()}},
                       {}, {"HSMCTL_TOKEN", "HSMCTL_MODULE", "HSMCTL_PIN_SOURCE", "SOFTHSM2_CONF"});
  }
  // Approves and drops the approval into the host's directory (as a mail attachment would).
  void approve_into(const std::string& custodian, const std::filesystem::path& dir) {
    const auto out = tmp_.path() / (custodian + "-" + dir.filename().string() + ".approval");
    const RunResult r = approve(custodian, dir / "request.json", out);
    ASSERT_EQ(r.code, 0) << r.err;
    std::filesystem::copy_file(out, dir / (custodian + ".approval"));
  }
  int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  std::filesystem::path shares_;
};

TEST_F(RemoteApproval, BackupMadeWithThreeApprovalsFromThreeMachines) {
  init_three_of_four();
  const auto dir = tmp_.path() / "req1";
  const std::string out = (tmp_.path() / "site.hsmbk").string();
  auto h = host(dir, out);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "request.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  const RunResult shown = run_program({HSMCTL_BINARY, "--json", "quorum", "show",
                                       (dir / "request.json").string()});
  ASSERT_EQ(shown.code, 0) << shown.err;
  const auto req = shown.json();
  EXPECT_EQ(req["operation"]["command"], "backup create");
  EXPECT_EQ(req["operation"]["parameters"]["--out"][0], out);
  EXPECT_EQ(req["share_set"]["custodians"].size(), 4u);
  EXPECT_EQ(req["public_key"].get<std::string>().size(), 64u);

  const auto a_out = tmp_.path() / "a.approval";
  const RunResult a = approve("a", dir / "request.json", a_out);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.out.find("Operation:   hsmctl backup create --out " + out), std::string::npos) << a.out;
  EXPECT_NE(a.out.find(req["pgp_words"].get<std::string>()), std::string::npos);
  ASSERT_EQ(::stat(a_out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path() / "custodian-a"));  // no workspace made
  // The approval holds no word of the share.
  const std::string share_a = read_file(shares_ / "a.share");
  EXPECT_EQ(read_file(a_out).find(share_a.substr(0, share_a.find(' '))), std::string::npos);
  std::filesystem::copy_file(a_out, dir / "a.approval");
  approve_into("c", dir);
  approve_into("d", dir);

  const RunResult r = h->finish();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("approval of custodian 'd' accepted; 3 of 3 approvals in: quorum met"),
            std::string::npos) << r.err;
  EXPECT_NE(r.out.find("backup written to " + out), std::string::npos) << r.out;
  // (Asked only now: the host held the workspace while it waited.)
  EXPECT_EQ(req["workspace"]["master_kcv"], hsmctl({"master", "status", "--json"}).json()["kcv"]);

  // The backup authenticates under the quorum's key, as any other backup.
  std::string two;
  for (const char* c : {"b", "c", "d"}) two += read_file(shares_ / (std::string(c) + ".share"));
  const auto verify = hsmctl({"backup", "verify", out, "--shares-file",
                              write_file("three", two).string(), "--json"});
  ASSERT_EQ(verify.code, 0) << verify.err;
  EXPECT_TRUE(verify.json()["authenticated"].get<bool>());

  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_EQ(count(transcript, "\"event\":\"quorum.requested\""), 1);
  EXPECT_EQ(count(transcript, "\"event\":\"quorum.approval\""), 3);
  EXPECT_NE(transcript.find("\"digest\":\"" + req["digest"].get<std::string>() + "\""),
            std::string::npos);
  EXPECT_EQ(transcript.find(share_a.substr(0, share_a.find(' ') + 1)), std::string::npos);
  const RunResult v = hsmctl({"transcript", "verify", "--strict"});
  EXPECT_EQ(v.code, 0) << v.err;
}

TEST_F(RemoteApproval, GroupedSetIsApprovedGroupByGroup) {
  make_private_dir(shares_);
  ASSERT_EQ(hsmctl({"master", "init", "--group", "board:2:ann,bob,cy", "--group",
                    "ops:3:dee,eve,fay,gus,hal", "--group-threshold", "2", "--shares-out",
                    shares_.string()}).code, 0);
  const auto dir = tmp_.path() / "req";
  const std::string out = (tmp_.path() / "g.hsmbk").string();
  auto h = host(dir, out);
  for (const char* c : {"ann", "cy", "dee", "fay"}) approve_into(c, dir);
  ASSERT_TRUE(h->wait_for_stderr("'ops' 2 of 3"));
  approve_into("hal", dir);
  const RunResult r = h->finish();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 2 groups complete ('board' 2 of 2 (complete), 'ops' 3 of 3 "
                       "(complete)): quorum met"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out));
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(RemoteApproval, AQuorumKeySignsWithApprovals) {
  ASSERT_EQ(master_init(shares_).code, 0);
  const auto two = write_file("two", read_file(shares_ / "a.share") + read_file(shares_ / "b.share"));
  ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--shares-file", two.string()}).code, 0);
  const auto pem = write_file("q.pem", hsmctl({"key", "export-public", "q"}).out, 0644);
  const auto data = write_file("data.txt", "signed with two remote approvals\n", 0644);
  const auto sig = tmp_.path() / "q.sig";
  const auto dir = tmp_.path() / "req";
  auto h = host_of(dir, {"sign", "file", "--key", "q", "--in", data.string(), "--out", sig.string()});
  const auto req = run_program({HSMCTL_BINARY, "--json", "quorum", "show",
                                (dir / "request.json").string()}).json();
  EXPECT_EQ(req["operation"]["command"], "sign file");
  EXPECT_EQ(req["operation"]["parameters"]["--key"][0], "q");
  EXPECT_EQ(req["operation"]["parameters"]["--in"][0], data.string());
  approve_into("b", dir);
  approve_into("c", dir);
  const RunResult r = h->finish();
  ASSERT_EQ(r.code, 0) << r.err;
  const RunResult v = openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature",
                               sig.string(), data.string()});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(RemoteApproval, BadApprovalsAreRefusedRecordedAndTheWaitGoesOn) {
  init_three_of_four();
  // A first request, approved by a, b and c.
  const auto dir1 = tmp_.path() / "req1";
  auto h1 = host(dir1, (tmp_.path() / "one.hsmbk").string());
  for (const char* c : {"a", "b", "c"}) approve_into(c, dir1);
  ASSERT_EQ(h1->finish().code, 0);

  const auto dir2 = tmp_.path() / "req2";
  auto h2 = host(dir2, (tmp_.path() / "two.hsmbk").string());
  // a's approval of the first request, replayed on the second.
  std::filesystem::copy_file(dir1 / "a.approval", dir2 / "a-old.approval");
  ASSERT_TRUE(h2->wait_for_stderr("approval 'a-old.approval' refused: it approves another "
                                  "request"));
  // b's approval with one byte of the sealed share flipped.
  const auto b_out = tmp_.path() / "b2.approval";
  ASSERT_EQ(approve("b", dir2 / "request.json", b_out).code, 0);
  std::string text = read_file(b_out);
  const auto at = text.find("\"sealed_share\": \"") + 20;
  text[at] = text[at] == '0' ? '1' : '0';
  std::ofstream(dir2 / "b-tampered.approval") << text;
  ASSERT_TRUE(h2->wait_for_stderr("approval 'b-tampered.approval' refused: it does not open"));
  // c approves; the same approval under a second name is a duplicate.
  approve_into("c", dir2);
  ASSERT_TRUE(h2->wait_for_stderr("approval of custodian 'c' accepted"));
  std::filesystem::copy_file(dir2 / "c.approval", dir2 / "c-again.approval");
  ASSERT_TRUE(h2->wait_for_stderr("approval 'c-again.approval' refused: custodian 'c' has "
                                  "already approved"));
  // A share of another share set fails its commitment at the custodian's end: nothing written.
  const auto other_ws = tmp_.path() / "other-ws";
  const auto other_shares = tmp_.path() / "other-shares";
  make_private_dir(other_shares);
  hsm_.init_token("O");
  ASSERT_EQ(hsmctl({"--dir", other_ws.string(), "--token", "O", "master", "init", "--threshold",
                    "3", "--custodians", "a,b,c,d", "--shares-out", other_shares.string()}).code, 0);
  const auto wrong = tmp_.path() / "wrong.approval";
  expect_failure(approve("b", dir2 / "request.json", wrong, other_shares / "b.share"), 4,
                 "another share set");
  EXPECT_FALSE(std::filesystem::exists(wrong));
  // An existing --out is refused before anything is asked.
  expect_failure(approve("b", dir2 / "request.json", b_out), 7, "already exists");

  approve_into("b", dir2);
  approve_into("d", dir2);
  const RunResult r = h2->finish();
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_EQ(count(transcript, "\"accepted\":false"), 3) << transcript;
  EXPECT_NE(transcript.find("\"custodian\":\"b\",\"file\":\"b-tampered.approval\",\"reason\":"
                            "\"it does not open"), std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(RemoteApproval, TooFewApprovalsBeforeTheExpiryIsQuorumNotMet) {
  init_three_of_four();
  const auto dir = tmp_.path() / "req";
  const std::string out = (tmp_.path() / "late.hsmbk").string();
  auto h = host(dir, out, "10s");
  approve_into("a", dir);
  approve_into("b", dir);
  const RunResult r = h->finish();
  expect_failure(r, 5, "expired at");
  EXPECT_NE(r.err.find("2 of 3 shares given; 1 more needed"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  // Approving an expired request is refused, and nothing is written.
  const auto late = tmp_.path() / "c-late.approval";
  expect_failure(approve("c", dir / "request.json", late), 5, "expired");
  EXPECT_FALSE(std::filesystem::exists(late));
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(RemoteApproval, OnlyForgedApprovalsBeforeTheExpiryIsAnIntegrityFailure) {
  init_three_of_four();
  const auto dir = tmp_.path() / "req";
  auto h = host(dir, (tmp_.path() / "f.hsmbk").string(), "4s");
  std::ofstream(dir / "x.approval") << "{\"format\": \"hsmctl-quorum-approval/1\"}\n";
  expect_failure(h->finish(), 4, "failed the integrity checks");
}

TEST_F(RemoteApproval, AChangedRequestAndSigintAreRefused) {
  init_three_of_four();
  const auto dir = tmp_.path() / "req";
  auto h = host(dir, (tmp_.path() / "i.hsmbk").string());
  std::string text = read_file(dir / "request.json");
  const auto at = text.find("\"expires\": \"") + 12;
  text[at + 3] = text[at + 3] == '9' ? '8' : '9';  // a later year
  const auto changed = write_file("changed.json", text, 0644);
  expect_failure(approve("a", changed, tmp_.path() / "a.approval"), 4, "does not match its digest");
  expect_failure(hsmctl({"quorum", "show", changed.string()}), 4, "does not match its digest");
  h->signal(SIGINT);
  const RunResult r = h->finish();
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() / "i.hsmbk"));
}

}  // namespace
}  // namespace hsm::test
