// hsmctl doctor against real workspaces: consistent ones pass, and each kind of damage it exists
// to find (an orphan token object, a token without the master, a torn transcript, a broken
// keystore) is a "problem" with exit 4.
#include <fstream>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Doctor : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "root", "--algo", "ec-p256", "--purpose", "ca"}).code, 0);
  }
  // The statuses of the findings of one check name.
  std::vector<std::string> statuses(const nlohmann::json& doc, const std::string& check) {
    std::vector<std::string> out;
    for (const auto& f : doc["findings"])
      if (f["check"] == check) out.push_back(f["status"]);
    return out;
  }
};

TEST_F(Doctor, AConsistentWorkspacePasses) {
  const RunResult r = hsmctl({"--json", "doctor"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const nlohmann::json doc = r.json();
  EXPECT_TRUE(doc["ok"].get<bool>());
  EXPECT_EQ(statuses(doc, "master"), std::vector<std::string>{"ok"});
  EXPECT_EQ(statuses(doc, "key:root"), std::vector<std::string>{"ok"});
  EXPECT_EQ(statuses(doc, "transcript"), std::vector<std::string>{"ok"});
  EXPECT_EQ(statuses(doc, "keystore"), std::vector<std::string>{"ok"});
}

TEST_F(Doctor, ATokenObjectTheKeystoreDoesNotKnowIsAnOrphan) {
  // As after a crash between making the token object and recording it.
  ASSERT_EQ(run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(),
                         "DELETE FROM keys WHERE label = 'root'"}).code, 0);
  const RunResult r = hsmctl({"--json", "doctor"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(statuses(r.json(), "object:hsmctl-key-root").size(), 2u);  // private and public
  EXPECT_EQ(statuses(r.json(), "object:hsmctl-key-root").front(), "problem");
}

TEST_F(Doctor, ATokenWithoutTheMasterOrTheKeysIsNamed) {
  hsm_.init_token("other");
  const RunResult r = hsmctl({"--token", "other", "--json", "doctor"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(statuses(r.json(), "master"), std::vector<std::string>{"problem"});
  EXPECT_EQ(statuses(r.json(), "key:root"), std::vector<std::string>{"problem"});
  const RunResult text = hsmctl({"--token", "other", "doctor"});
  EXPECT_NE(text.out.find("master restore"), std::string::npos) << text.out;
}

TEST_F(Doctor, ATornLastLineIsReportedAndOfflineNeedsNoToken) {
  std::ofstream(ws_ / "transcript.jsonl", std::ios::app) << "{\"seq\":99,\"ev";
  // --offline never logs in: no PIN source is needed.
  const RunResult r = hsmctl({"--pin-source", "env:NO_SUCH_VARIABLE", "--json", "doctor", "--offline"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(statuses(r.json(), "transcript"), std::vector<std::string>{"problem"});
  EXPECT_NE(r.out.find("torn last line"), std::string::npos) << r.out;
  EXPECT_TRUE(statuses(r.json(), "master").empty());
}

TEST_F(Doctor, ADirectoryThatIsNotAWorkspaceIsRefused) {
  expect_failure(hsmctl({"--dir", (tmp_.path() / "nowhere").string(), "doctor"}), 7,
                 "not an hsmctl workspace");
}

TEST_F(Doctor, TextStaysInItsColumns) {
  // A key with a long label makes check names longer than any fixed column would be.
  const std::string label(60, 'k');
  ASSERT_EQ(hsmctl({"key", "generate", label}).code, 0);
  ASSERT_EQ(run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(),
                         "DELETE FROM keys WHERE label = '" + label + "'"}).code, 0);
  const RunResult r = hsmctl({"doctor"});
  EXPECT_EQ(r.code, 4) << r.err;
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GE(lines.size(), 4u);
  const std::size_t check = lines[0].find("CHECK"), detail = lines[0].find("DETAIL");
  ASSERT_EQ(lines[0].rfind("STATUS", 0), 0u) << r.out;
  ASSERT_NE(detail, std::string::npos) << r.out;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {  // the last line is the summary
    SCOPED_TRACE(lines[i]);
    ASSERT_GT(lines[i].size(), detail);
    EXPECT_EQ(lines[i][check - 1], ' ');
    EXPECT_NE(lines[i][check], ' ');
    EXPECT_EQ(lines[i].substr(detail - 2, 2), "  ");
    EXPECT_NE(lines[i][detail], ' ');
  }
  EXPECT_NE(r.out.find("object:hsmctl-key-" + label), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hsm::test
