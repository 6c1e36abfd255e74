// The example plan rehearsed as a witness and an auditor use it: the head the run prints last is
// the one `transcript verify --strict --head` accepts, two rehearsals of one plan compare equal,
// and a plan changed in one value differs in exactly that value.
#include <algorithm>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class PlanRehearsal : public HsmTest {
 protected:
  // The example plan with `from` replaced by `to` (once; empty: unchanged).
  std::string example(const std::string& from = {}, const std::string& to = {}) {
    std::string text = hsmctl({"ceremony", "plan-example"}).out;
    if (!from.empty()) {
      const auto at = text.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    return text;
  }
  // Rehearses `plan` in DIR/<name>; returns the run and its transcript.
  std::pair<RunResult, std::string> rehearse(const std::string& name, const std::string& plan,
                                             bool json = false) {
    const auto dir = tmp_.path() / name;
    std::vector<std::string> args{"--yes", "ceremony", "run", "--rehearse", "--rehearsal-dir",
                                  dir.string(), write_file(name + ".toml", plan).string()};
    if (json) args.insert(args.begin(), "--json");
    RunResult r = hsmctl(args);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return {r, (dir / "workspace" / "transcript.jsonl").string()};
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

TEST_F(PlanRehearsal, TheHeadPrintedLastIsTheOneVerifyAccepts) {
  const auto [r, transcript] = rehearse("a", example());
  const auto out = lines(r.out);
  ASSERT_GE(out.size(), 3u) << r.out;
  // The last two lines: the head in hex, then its PGP words.
  std::string head = out[out.size() - 2];
  head.erase(0, head.find_first_not_of(' '));
  ASSERT_EQ(head.size(), 64u) << r.out;
  EXPECT_NE(out[out.size() - 3].find("Final transcript head"), std::string::npos) << r.out;
  const RunResult words = hsmctl({"transcript", "head", transcript});
  EXPECT_NE(words.out.find(head), std::string::npos) << words.out;
  EXPECT_NE(words.out.find(out.back().substr(2)), std::string::npos) << words.out;
  const RunResult v = hsmctl({"transcript", "verify", "--strict", "--head", head, transcript});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  // No step of the example prints a head that is not the final one.
  EXPECT_EQ(r.out.find("\nhead after"), std::string::npos) << r.out;

  const auto [j, jt] = rehearse("b", example(), true);
  const auto doc = j.json();
  ASSERT_TRUE(doc.contains("head")) << j.out;
  EXPECT_EQ(doc["pgp_words"], hsmctl({"--json", "transcript", "head", jt}).json()["pgp_words"]);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict", "--head", doc["head"], jt}).code, 0);
}

TEST_F(PlanRehearsal, TwoRehearsalsCompareEqualAndOneChangedValueIsTheDifference) {
  const std::string a = rehearse("a", example()).second;
  const std::string b = rehearse("b", example()).second;
  const RunResult same = hsmctl({"ceremony", "diff", a, b});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("same plan run"), std::string::npos) << same.out;

  struct Change {
    std::string from, to, was, now;
    std::vector<std::string> about;  // each difference names one of these
  } changes[] = {
      {"threshold = 3\n", "threshold = 4\n", "3", "4", {"threshold", "quorum"}},
      {"algo = \"ec-p256\"", "algo = \"ec-p384\"", "ec-p256", "ec-p384", {"algo"}},
      {"CN=Example Root 2026", "CN=Example Root 2027", "Root 2026", "Root 2027", {}},
  };
  int n = 0;
  for (const auto& c : changes) {
    SCOPED_TRACE(c.to);
    std::string plan = example(c.from, c.to);
    if (c.to == "threshold = 4\n") {  // the quorum key's M follows the threshold
      const auto at = plan.find("quorum = 3");
      ASSERT_NE(at, std::string::npos);
      plan.replace(at, 10, "quorum = 4");
    }
    const std::string changed = rehearse("changed" + std::to_string(++n), plan).second;
    const RunResult d = hsmctl({"--json", "ceremony", "diff", a, changed});
    EXPECT_EQ(d.code, 1) << d.out << d.err;
    const auto differences = d.json()["differences"];
    ASSERT_FALSE(differences.empty()) << d.out;
    for (const auto& line : differences) {
      const std::string text = line.get<std::string>();
      // A higher threshold takes one share more in each quorum step: that event, nothing else.
      if (c.now == "4" && text.find("share.accepted only in the live run") != std::string::npos)
        continue;
      EXPECT_NE(text.find(c.was), std::string::npos) << text;
      EXPECT_NE(text.find(c.now), std::string::npos) << text;
      if (!c.about.empty()) {
        EXPECT_TRUE(std::any_of(c.about.begin(), c.about.end(), [&](const std::string& w) {
          return text.find(w) != std::string::npos;
        })) << text;
      }
    }
  }
}

}  // namespace
}  // namespace hsm::test
