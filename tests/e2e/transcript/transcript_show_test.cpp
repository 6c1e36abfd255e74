// `transcript show` on a transcript real ceremonies wrote: one readable line per event (what,
// to what, by whom, outcome), long data summarised unless --full, the filters, JSON Lines, and
// a filter that matches nothing saying so.
#include <algorithm>
#include <sstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

std::vector<std::string> show_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class TranscriptShow : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    for (const char* name : {"alice", "bob"})
      ASSERT_EQ(hsmctl({"user", "create", name, "--kdf-profile", "min", "--password-source",
                        "env:PW"}, {{"PW", "show test password"}}).code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "root", "--algo", "p256"}).code, 0);
    std::string rows = "name,password\n";
    for (int i = 0; i < 40; ++i) rows += "batch-user-" + std::to_string(i) + ",pw-of-batch-user-" +
                                          std::to_string(i) + "\n";
    ASSERT_EQ(hsmctl({"user", "provision", "--from", write_file("rows.csv", rows).string(),
                      "--kdf-profile", "min"}).code, 0);
    ASSERT_EQ(hsmctl({"transcript", "note", "--witness", "carol", "bag 4411 intact"}).code, 0);
  }
  RunResult show(std::vector<std::string> args) {
    args.insert(args.begin(), {"transcript", "show"});
    return hsmctl(args);
  }
  std::size_t entries() {
    return show_lines(read_file(ws_ / "transcript.jsonl")).size();
  }
};

TEST_F(TranscriptShow, OneReadableLinePerEventWithAHeader) {
  const RunResult r = show({});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = show_lines(r.out);
  ASSERT_EQ(lines.size(), entries() + 1);
  for (const char* column : {"SEQ", "TIME", "CEREMONY", "EVENT", "TARGET", "BY", "OUTCOME", "DETAILS"})
    EXPECT_NE(lines[0].find(column), std::string::npos) << column;
  // Every line is short: the provisioning entry (40 users) is summarised.
  for (const auto& l : lines) EXPECT_LT(l.size(), 260u) << l;
  auto line_with = [&](const std::string& a, const std::string& b) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(a) != std::string::npos && l.find(b) != std::string::npos;
    });
  };
  EXPECT_EQ(line_with("user.created", "user 'alice'"), 1);
  EXPECT_EQ(line_with("key.generate", "key 'root'"), 1);
  EXPECT_EQ(line_with("witness.note", "witness 'carol'"), 1);
  EXPECT_GE(line_with("user.provisioned", "items]"), 1);
  EXPECT_GE(line_with("ceremony.end", " ok "), 5);
  const std::string actor =
      nlohmann::json::parse(show_lines(show({"--json", "--event", "user.created"}).out).at(0))["actor"];
  EXPECT_EQ(line_with(" " + actor + " ", "user.created"), 2);  // by whom
  // --full shows the data whole: the 64-digit fingerprint appears.
  const std::string fp = hsmctl({"--json", "user", "show", "alice"}).json()["fingerprint"];
  EXPECT_EQ(r.out.find(fp), std::string::npos);
  EXPECT_NE(show({"--full"}).out.find(fp), std::string::npos);
}

TEST_F(TranscriptShow, FiltersSelectAndCombine) {
  const auto alice = show_lines(show({"--user", "alice"}).out);
  ASSERT_GE(alice.size(), 3u);  // header, ceremony.begin, user.created, ceremony.end ...
  for (std::size_t i = 1; i < alice.size(); ++i) {
    EXPECT_NE(alice[i].find("alice"), std::string::npos) << alice[i];
    EXPECT_EQ(alice[i].find("bob"), std::string::npos) << alice[i];
  }
  const auto batch = show_lines(show({"--user", "batch-user-7", "--event", "user"}).out);
  ASSERT_GE(batch.size(), 2u);  // the provisioning entry names it inside its data
  for (std::size_t i = 1; i < batch.size(); ++i)
    EXPECT_NE(batch[i].find("user.provisioned"), std::string::npos) << batch[i];

  const auto keys = show_lines(show({"--key", "root"}).out);
  ASSERT_GE(keys.size(), 3u);
  for (std::size_t i = 1; i < keys.size(); ++i) EXPECT_NE(keys[i].find("root"), std::string::npos);

  const auto ends = show_lines(show({"--event", "ceremony.end,witness.note"}).out);
  for (std::size_t i = 1; i < ends.size(); ++i)
    EXPECT_TRUE(ends[i].find("ceremony.end") != std::string::npos ||
                ends[i].find("witness.note") != std::string::npos) << ends[i];

  const auto window = show_lines(show({"--since", "3", "--until", "5"}).out);
  ASSERT_EQ(window.size(), 4u);
  EXPECT_EQ(window[1].substr(0, 5), "    3");
  EXPECT_EQ(window[3].substr(0, 5), "    5");
  // A date bound: everything was written today (UTC), nothing before 2000.
  EXPECT_EQ(show_lines(show({"--since", "2000-01-01"}).out).size(), entries() + 1);
  EXPECT_EQ(show_lines(show({"--until", "2000-01-01T00:00:00Z"}).out).size(), 1u);
}

TEST_F(TranscriptShow, AFilterThatMatchesNothingSaysSo) {
  const RunResult r = show({"--user", "zed", "--event", "user"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "no entry of the " + std::to_string(entries()) + " in '" +
                       (ws_ / "transcript.jsonl").string() + "' matches --event user --user zed\n");
  const RunResult j = show({"--json", "--key", "nokey"});
  EXPECT_EQ(j.code, 0);
  EXPECT_TRUE(j.out.empty());
  EXPECT_NE(j.err.find("matches --key nokey"), std::string::npos) << j.err;
  expect_failure(show({"--since", "yesterday"}), 2, "--since 'yesterday' is neither a seq");
}

TEST_F(TranscriptShow, JsonIsOneEntryALineAsInTheFileWithoutSig) {
  const RunResult r = show({"--json", "--event", "user.created"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = show_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  const auto file = show_lines(read_file(ws_ / "transcript.jsonl"));
  for (const auto& l : lines) {
    const auto e = nlohmann::json::parse(l);
    EXPECT_EQ(e["event"], "user.created");
    EXPECT_FALSE(e.contains("sig"));
    auto in_file = nlohmann::json::parse(file.at(e["seq"].get<std::size_t>()));
    in_file.erase("sig");
    EXPECT_EQ(e, in_file);
  }
}

}  // namespace
}  // namespace hsm::test
