// ceremony validate names every mistake of a plan in one run, each as PLAN:LINE: message at the
// line of the offending key, with the checks the run itself would make; a plan it refuses is
// refused by `run --rehearse` too, before any token is made.
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class PlanValidate : public HsmTest {
 protected:
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  // Validate and a rehearsal both refuse `text` with exit 2 and exactly these (line, needle)
  // problems, one stderr line each, in line order.
  void expect_problems(const std::string& text,
                       const std::vector<std::pair<int, std::string>>& wanted) {
    const std::string plan = write_file("plan.toml", text).string();
    const RunResult v = hsmctl({"ceremony", "validate", plan});
    EXPECT_EQ(v.code, 2) << v.err;
    EXPECT_EQ(v.out, "");
    const auto got = lines(v.err);
    ASSERT_EQ(got.size(), wanted.size()) << v.err;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      const std::string prefix =
          "hsmctl: error: " + plan + ":" + std::to_string(wanted[i].first) + ": ";
      EXPECT_EQ(got[i].rfind(prefix, 0), 0u) << got[i] << "\nwanted line " << wanted[i].first;
      EXPECT_NE(got[i].find(wanted[i].second), std::string::npos) << got[i];
    }
    const RunResult j = hsmctl({"--json", "ceremony", "validate", plan});
    EXPECT_EQ(j.code, 2);
    EXPECT_EQ(j.json()["problems"].size(), wanted.size()) << j.out;
    const auto dir = tmp_.path() / "rehearsal";
    const RunResult r = hsmctl({"--yes", "ceremony", "run", "--rehearse", "--rehearsal-dir",
                                dir.string(), plan});
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(lines(r.err).size(), wanted.size()) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "tokens")) << "the rehearsal made a token";
  }
};

constexpr const char* kHead = "[ceremony]\nname = \"p\"\nwitnesses = [\"carol\"]\n"
                              "roles = [\"operator\"]\n\n";  // 5 lines

TEST_F(PlanValidate, EightMistakesAreEightLinesAtTheirKeys) {
  const std::string existing = write_file("root.crt.pem", "already here").string();
  const std::string missing = (tmp_.path() / "missing.tar").string();
  const std::string sig = (tmp_.path() / "missing.tar.sig").string();
  const std::string plan = std::string(kHead) +
      "[[step]]\n"                                    // 6
      "run = \"master init\"\n"                       // 7
      "[step.args]\n"                                 // 8
      "threshold = 2\n"                               // 9
      "custodians = [\"a\", \"b\", \"a\"]\n"          // 10 custodian twice
      "\n"
      "[[step]]\n"                                    // 12
      "run = \"key generate\"\n"                      // 13
      "positional = [\"root\"]\n"                     // 14
      "[step.args]\n"                                 // 15
      "algo = \"ec-p385\"\n"                          // 16 no such algorithm
      "purpose = \"ca\"\n"                            // 17
      "\n"
      "[[step]]\n"                                    // 19
      "run = \"key generate\"\n"                      // 20
      "positional = [\"rel\"]\n"                      // 21
      "colour = \"blue\"\n"                           // 22 unknown key
      "[step.args]\n"                                 // 23
      "quorum = 3\n"                                  // 24 quorum is not the threshold
      "\n"
      "[[step]]\n"                                    // 26
      "run = \"sign cert\"\n"                         // 27
      "[step.args]\n"                                 // 28
      "key = \"root\"\n"                              // 29
      "self-signed = true\n"                          // 30
      "subject = \"CN=Root,O=Example\"\n"             // 31
      "profile = \"root\"\n"                          // 32 no such profile
      "days = 365\n"                                  // 33
      "out = \"" + existing + "\"\n"                  // 34 output exists
      "\n"
      "[[step]]\n"                                    // 36
      "run = \"sign file\"\n"                         // 37
      "[step.args]\n"                                 // 38
      "key = \"nokey\"\n"                             // 39 no step makes it
      "in = \"" + missing + "\"\n"                    // 40 no such input
      "out = \"" + sig + "\"\n";                      // 41
  expect_problems(plan, {{10, "custodian 'a' is named twice"},
                         {16, "unknown key algorithm 'ec-p385'"},
                         {22, "unknown key 'step.colour'"},
                         {24, "--quorum 3 must equal the threshold 2"},
                         {32, "'root'"},
                         {34, "already exists"},
                         {39, "uses key 'nokey', which no earlier step makes"},
                         {40, "does not exist and no earlier step writes it"}});
}

// The three plans of the issue that validated and then failed when run.
TEST_F(PlanValidate, PlansThatUsedToPassAndThenFail) {
  const std::string master = "[[step]]\nrun = \"master init\"\n[step.args]\nthreshold = 2\n"
                             "custodians = [\"a\", \"b\", \"c\"]\n\n";  // lines 6-11
  expect_problems(std::string(kHead) + master +
                      "[[step]]\nrun = \"key generate\"\npositional = [\"k\"]\n[step.args]\n"
                      "algo = \"ec-p385\"\n",
                  {{16, "unknown key algorithm 'ec-p385'"}});
  expect_problems(std::string(kHead) + master +
                      "[[step]]\nrun = \"key generate\"\npositional = [\"k\"]\n[step.args]\n"
                      "quorum = 3\n",
                  {{16, "--quorum 3 must equal the threshold 2 of the share set step 1 issues"}});
  expect_problems(std::string(kHead) + master +
                      "[[step]]\nrun = \"key export-public\"\npositional = [\"k\"]\n",
                  {{14, "uses key 'k', which no earlier step makes"}});
}

// Files the plan writes itself are inputs of later steps; written twice they are a mistake.
TEST_F(PlanValidate, FilesComeFromTheDiskOrAnEarlierStep) {
  const std::string cert = (tmp_.path() / "root.crt.pem").string();
  const std::string plan = std::string(kHead) +
      "[[step]]\nrun = \"key generate\"\npositional = [\"root\"]\n[step.args]\nalgo = \"ec-p384\"\n"
      "purpose = \"ca\"\n\n"                                                         // 6-12
      "[[step]]\nrun = \"sign cert\"\n[step.args]\nkey = \"root\"\nself-signed = true\n"
      "subject = \"CN=Root\"\ndays = 10\nout = \"" + cert + "\"\n\n"                 // 13-21
      "[[step]]\nrun = \"sign crl\"\n[step.args]\nkey = \"root\"\nissuer-cert = \"" + cert +
      "\"\nnext-update = 5\nout = \"" + cert + "\"\n";                               // 22-28
  expect_problems(plan, {{28, "is already written by step 2"}});
}

}  // namespace
}  // namespace hsm::test
