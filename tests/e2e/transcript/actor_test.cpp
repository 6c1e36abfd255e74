// Who the transcript says ran a ceremony, and what an auditor's terminal shows of it: the actor
// is the operating-system account (never $USER) or a validated --actor NAME, the account is
// recorded with it, and control characters recorded in the transcript are shown escaped.
#include <pwd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Actor : public HsmTest {
 protected:
  void SetUp() override { write_file("ws/keystore.sqlite", "", 0600); }  // notes need a workspace
  std::vector<nlohmann::json> entries() {
    std::vector<nlohmann::json> out;
    std::istringstream in(read_file(ws_ / "transcript.jsonl"));
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  static std::string account() { return ::getpwuid(::geteuid())->pw_name; }
};

TEST_F(Actor, IsTheAccountNotTheUserVariable) {
  const RunResult r = hsmctl({"transcript", "note", "--witness", "carol", "seal 4411 intact"},
                             {{"USER", "x\x1b[8my"}});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = entries();
  ASSERT_GE(all.size(), 4u);
  for (const auto& e : all) EXPECT_EQ(e["actor"], account()) << e.dump();
  for (const auto& e : all) {
    if (e["event"] == "ceremony.begin") {
      EXPECT_EQ(e["data"]["account"], account());
    }
  }
  const RunResult show = hsmctl({"transcript", "show"}, {{"USER", "x\x1b[8my"}});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find(account()), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("x\x1b"), std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(Actor, AGivenNameIsRecordedWithTheAccount) {
  ASSERT_EQ(hsmctl({"--actor", "carol.ops", "transcript", "note", "--witness", "dave", "ok"}).code,
            0);
  bool begin = false;
  for (const auto& e : entries()) {
    EXPECT_EQ(e["actor"], "carol.ops") << e.dump();
    if (e["event"] == "ceremony.begin") {
      begin = true;
      EXPECT_EQ(e["data"]["account"], account());
    }
  }
  EXPECT_TRUE(begin);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
  // A name that is not a user name is refused before anything is written.
  const auto before = read_file(ws_ / "transcript.jsonl");
  expect_failure(hsmctl({"--actor", "carol ops", "transcript", "note", "--witness", "d", "x"}), 2,
                 "--actor 'carol ops' must be");
  EXPECT_EQ(read_file(ws_ / "transcript.jsonl"), before);
}

TEST_F(Actor, ControlCharactersInTheTranscriptAreShownEscaped) {
  // A witness's note may hold anything; the auditor's screen must show it, not obey it.
  ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "carol",
                    "hidden\x1b[8m text \xe2\x80\xae reversed \x7f"}).code, 0);
  // --full: the whole text (a summary may cut it); the fixture refuses raw controls.
  const RunResult show = hsmctl({"transcript", "show", "--full"});
  ASSERT_EQ(show.code, 0) << show.err;
  // ESC as \x1b (or \u001b where the data column is JSON), U+202E and DEL as escapes.
  EXPECT_TRUE(show.out.find("hidden\\x1b[8m") != std::string::npos ||
              show.out.find("hidden\\u001b[8m") != std::string::npos) << show.out;
  EXPECT_NE(show.out.find(" \\u202e reversed \\x7f"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find("\xe2\x80\xae"), std::string::npos);  // RIGHT-TO-LEFT OVERRIDE
  // JSON output stays JSON: the tools' view is the recorded value, escaped by the encoder.
  const RunResult json = hsmctl({"--json", "transcript", "show"});
  ASSERT_EQ(json.code, 0) << json.err;
  bool found = false;
  std::istringstream lines(json.out);  // JSON Lines: one entry a line
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json e = nlohmann::json::parse(line);
    if (e["event"] == "witness.note")
      found = e["data"]["text"] == "hidden\x1b[8m text \xe2\x80\xae reversed \x7f";
  }
  EXPECT_TRUE(found) << json.out;
}

}  // namespace
}  // namespace hsm::test
