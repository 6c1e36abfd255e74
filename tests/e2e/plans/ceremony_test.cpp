// ceremony validate | run | run --rehearse | diff | plan-example against real SoftHSM tokens:
// refusals with their plan line, a whole plan run recorded step by step, a failing step that
// stops the run, and a rehearsal that diff finds equal to the live run (and unequal to a
// changed one).
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

struct PlanParams {
  std::string token = "test", algo = "ec-p256", shares, in, out, middle_step, extra_step;
};

std::string small_plan(const PlanParams& p) {
  return "[ceremony]\nname = \"small\"\ntoken = \"" + p.token +
         "\"\nwitnesses = [\"carol\"]\nroles = [\"operator\", \"custodians\"]\n\n"
         "[[step]]\nrun = \"master init\"\nroles = [\"operator\", \"custodians\"]\n"
         "witnesses = [\"carol\"]\n[step.args]\nthreshold = 2\ncustodians = [\"a\", \"b\", \"c\"]\n"
         "shares-out = \"" + p.shares + "\"\n\n"
         "[[step]]\nrun = \"key generate\"\npositional = [\"rel\"]\n[step.args]\nalgo = \"" +
         p.algo + "\"\npurpose = \"code\"\n\n" + p.middle_step +
         "[[step]]\nname = \"sign the release\"\nrun = \"sign file\"\n[step.args]\nkey = \"rel\"\n"
         "in = \"" + p.in + "\"\nout = \"" + p.out + "\"\n\n" + p.extra_step +
         "[[step]]\nrun = \"transcript head\"\n";
}

class Ceremony : public HsmTest {
 protected:
  void SetUp() override { input_ = write_file("release.tar", "release bytes\n"); }
  PlanParams params(const std::string& tag) {
    PlanParams p;
    p.shares = (tmp_.path() / ("shares-" + tag)).string();
    make_private_dir(p.shares);
    p.in = input_.string();
    p.out = (tmp_.path() / ("release-" + tag + ".sig")).string();
    return p;
  }
  std::string plan_file(const std::string& name, const std::string& text) {
    return write_file(name, text).string();
  }
  // The events of a transcript, in order.
  std::vector<std::string> events(const std::filesystem::path& transcript) {
    std::vector<std::string> out;
    std::ifstream in(transcript);
    for (std::string line; std::getline(in, line);)
      out.push_back(nlohmann::json::parse(line)["event"].get<std::string>());
    return out;
  }
  std::filesystem::path input_;
};

TEST_F(Ceremony, ValidateRefusesBadPlansWithTheirLine) {
  const std::string head = "[ceremony]\nname = \"x\"\nwitnesses = [\"w\"]\n\n";  // 4 lines
  struct Case {
    const char* what;
    std::string body;  // from line 5
    int line;
    const char* needle;
  } cases[] = {
      {"unknown step key", "[[step]]\nrun = \"transcript head\"\nrunn = 1\n", 7, "unknown key 'step.runn'"},
      {"unknown top key", "[[step]]\nrun = \"transcript head\"\n[other]\n", 7, "unknown key 'other'"},
      {"missing option", "[[step]]\nrun = \"master init\"\n[step.args]\nthreshold = 2\n", 8,
       "--custodians is required"},
      {"impossible threshold",
       "[[step]]\nrun = \"master init\"\n[step.args]\nthreshold = 4\ncustodians = \"a,b,c\"\n", 8,
       "threshold 4 is more than the 3 custodians"},
      {"one of n", "[[step]]\nrun = \"master init\"\n[step.args]\ncustodians = [\"a\", \"b\"]\n"
                   "threshold = 1\n", 9, "--threshold 1 (a 1-of-2 share set) lets one person"},
      {"global option", "[[step]]\nrun = \"transcript head\"\n[step.args]\ndir = \"/tmp\"\n", 8,
       "--dir is a global option"},
      {"unknown command", "[[step]]\nrun = \"master inti\"\n", 6, "step 1 (master inti)"},
      {"key used early", "[[step]]\nrun = \"key export-public\"\npositional = [\"k\"]\n\n"
                         "[[step]]\nrun = \"key generate\"\npositional = [\"k\"]\n", 7,
       "uses key 'k' before step 2 makes it"},
      {"unknown witness", "[[step]]\nrun = \"transcript head\"\nwitnesses = [\"mallory\"]\n", 7,
       "witness 'mallory' is not listed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = plan_file("plan.toml", head + c.body);
    expect_failure(hsmctl({"ceremony", "validate", path}), 2,
                   path + ":" + std::to_string(c.line) + ": ");
    EXPECT_NE(hsmctl({"ceremony", "validate", path}).err.find(c.needle), std::string::npos)
        << hsmctl({"ceremony", "validate", path}).err;
    // run refuses the same plan before touching the token: no transcript appears.
    EXPECT_EQ(hsmctl({"--yes", "ceremony", "run", path}).code, 2);
    EXPECT_FALSE(std::filesystem::exists(ws_ / "transcript.jsonl"));
  }
}

TEST_F(Ceremony, PlanExampleValidates) {
  const RunResult ex = hsmctl({"ceremony", "plan-example"});
  ASSERT_EQ(ex.code, 0) << ex.err;
  EXPECT_NE(ex.out.find("[[step]]"), std::string::npos);
  const RunResult v = hsmctl({"ceremony", "validate", plan_file("example.toml", ex.out), "--json"});
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["steps"].size(), 8u);
}

// The printed example runs as printed: its CRL step reads the certificate an earlier step wrote,
// and the rehearsal hands it the rehearsal's copy.
TEST_F(Ceremony, PlanExampleRehearsesEndToEnd) {
  const std::string plan = plan_file("example.toml", hsmctl({"ceremony", "plan-example"}).out);
  const auto rehearsal = tmp_.path() / "rehearsal";
  const RunResult r = hsmctl({"--yes", "ceremony", "run", "--rehearse", "--rehearsal-dir",
                              rehearsal.string(), plan});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto cert = rehearsal / "step4-root-2026.crt.pem";
  const auto crl = rehearsal / "step5-root-2026-1.crl.pem";
  ASSERT_TRUE(std::filesystem::exists(cert)) << r.out;
  const RunResult v = openssl({"crl", "-in", crl.string(), "-CAfile", cert.string(), "-noout"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_TRUE(std::filesystem::exists(rehearsal / "step7-root-2026.hsmbak"));
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict",
                    (rehearsal / "workspace" / "transcript.jsonl").string()}).code, 0);
}

TEST_F(Ceremony, RunRecordsEveryStepAsItsOwnCeremony) {
  const PlanParams p = params("live");
  const RunResult r = hsmctl({"--yes", "ceremony", "run", plan_file("plan.toml", small_plan(p))});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Step 3 of 4: sign the release"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("roles present: operator, custodians"), std::string::npos) << r.out;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  const auto ev = events(ws_ / "transcript.jsonl");
  std::vector<std::string> wanted{"plan.begin", "master.init", "key.generate", "sign.file", "plan.end"};
  auto at = ev.begin();
  for (const auto& w : wanted) {
    at = std::find(at, ev.end(), w);
    ASSERT_NE(at, ev.end()) << "no " << w << " after the events before it";
  }
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "ceremony.begin"), 5);  // plan.begin, 3 steps, plan.end
  const std::string pem = write_file("rel.pem", hsmctl({"key", "export-public", "rel"}).out).string();
  const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature", p.out, p.in});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
}

// A second master init passes every check a plan can make without the token, and the token
// refuses it: the run stops there.
TEST_F(Ceremony, AFailingStepStopsTheRunWithItsExitCode) {
  PlanParams p = params("fail");
  const auto shares2 = tmp_.path() / "shares-again";
  make_private_dir(shares2);
  p.middle_step = "[[step]]\nname = \"a second master\"\nrun = \"master init\"\n[step.args]\n"
                  "threshold = 2\ncustodians = [\"x\", \"y\"]\nshares-out = \"" +
                  shares2.string() + "\"\n\n";
  p.extra_step = "[[step]]\nrun = \"key generate\"\npositional = [\"never\"]\n\n";
  const RunResult r = hsmctl({"--yes", "ceremony", "run", plan_file("plan.toml", small_plan(p))});
  EXPECT_EQ(r.code, 7) << r.out << r.err;
  EXPECT_NE(r.err.find("hsmctl: error: step 3 (a second master) failed with exit code 7"),
            std::string::npos) << r.err;
  EXPECT_NE(r.out.find("The plan stopped at step 3 of 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 2 (key generate rel): key 'rel' is on the token"), std::string::npos)
      << r.out;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"exit_code\":7,\"failed_step\":3"), std::string::npos) << t;
  EXPECT_NE(t.find("\"outcome\":\"failure\",\"what\":\"plan.end\""), std::string::npos) << t;
  EXPECT_EQ(t.find("\"label\":\"never\""), std::string::npos) << "step 5 ran";
  EXPECT_FALSE(std::filesystem::exists(p.out)) << "step 4 ran";
  EXPECT_TRUE(std::filesystem::is_empty(shares2));
}

TEST_F(Ceremony, RehearsalMatchesTheLiveRunAndAChangedRunDiffers) {
  const PlanParams p = params("same");
  const std::string plan = plan_file("plan.toml", small_plan(p));
  const auto rehearsal = tmp_.path() / "rehearsal";
  const RunResult r = hsmctl({"--yes", "--json", "ceremony", "run", "--rehearse",
                              "--rehearsal-dir", rehearsal.string(), plan});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto rt = rehearsal / "workspace" / "transcript.jsonl";
  EXPECT_EQ(r.json()["transcript"], rt.string());
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict", rt.string()}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(p.out)) << "the rehearsal wrote a live output";
  EXPECT_TRUE(std::filesystem::is_empty(p.shares)) << "the rehearsal wrote live shares";
  EXPECT_FALSE(std::filesystem::exists(ws_ / "transcript.jsonl"));

  ASSERT_EQ(hsmctl({"--yes", "ceremony", "run", plan}).code, 0);
  const RunResult same = hsmctl({"ceremony", "diff", rt.string(), (ws_ / "transcript.jsonl").string()});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("same plan run"), std::string::npos);

  hsm_.init_token("B");
  PlanParams changed = params("changed");
  changed.token = "B";
  changed.algo = "ec-p384";
  const auto ws2 = tmp_.path() / "ws2";
  ASSERT_EQ(hsmctl({"--dir", ws2.string(), "--token", "B", "--yes", "ceremony", "run",
                    plan_file("changed.toml", small_plan(changed))}).code, 0);
  const RunResult differs = hsmctl({"ceremony", "diff", rt.string(), (ws2 / "transcript.jsonl").string()});
  EXPECT_EQ(differs.code, 1) << differs.out << differs.err;
  EXPECT_NE(differs.out.find("\"ec-p256\" in the rehearsal, \"ec-p384\" live"), std::string::npos)
      << differs.out;

  // A transcript that does not verify cannot be compared.
  std::string t = read_file(ws2 / "transcript.jsonl");
  t.replace(t.find("ec-p384"), 7, "ec-p521");
  expect_failure(hsmctl({"ceremony", "diff", rt.string(), write_file("bad.jsonl", t).string()}), 4,
                 "does not verify");
}

}  // namespace
}  // namespace hsm::test
