// Custodian share entry at a real (pseudo-)terminal: four-letter prefixes, a misspelt word
// named with its suggestion and typed again alone, a failed checksum mended by word number,
// and master verify-share with no token and no PIN, from the workspace or a commitments file.
#include <fstream>
#include <sstream>

#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/shamir/slip39.h"
#include "core/shamir/word_suggest.h"
#include "core/shamir/wordlist.h"
#include "support/hsm_fixture.h"
#include "support/pty_session.h"

namespace hsm::test {
namespace {

std::vector<std::string> words_of(const std::string& mnemonic) {
  std::vector<std::string> out;
  std::istringstream in(mnemonic);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// A misspelling of `word` that is not a list word and whose nearest list word is `word`.
std::string misspelt(const std::string& word) {
  for (size_t at = 1; at < word.size(); ++at) {
    for (char c = 'a'; c <= 'z'; ++c) {
      std::string typo = word;
      typo[at] = c;
      if (typo == word) continue;
      if (slip39::find_word(slip39::pack_word(typo)).found != 0) continue;
      if (slip39::nearest_word(typo).word == word) return typo;
    }
  }
  return {};
}

class ShareEntry : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    make_private_dir(shares_);
    const RunResult r = hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                                "--shares-out", shares_.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    kcv_ = r.json()["kcv"];
    commitments_ = r.json()["commitments_file"];
    hsm_.init_token("B");
  }
  std::string share(const std::string& who) {
    std::string s = read_file(shares_ / (who + ".share"));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  std::map<std::string, std::string> env(const std::map<std::string, std::string>& extra = {}) {
    auto e = base_env();
    for (const auto& [k, v] : extra) e[k] = v;
    return e;
  }
  // No token, no PIN: a module that does not exist, no PIN source, no token name.
  std::map<std::string, std::string> no_token_env() {
    return env({{"HSMCTL_MODULE", (tmp_.path() / "no-such-module.so").string()},
                {"HSMCTL_PIN_SOURCE", ""}, {"HSMCTL_TEST_PIN", ""}, {"HSMCTL_TOKEN", ""}});
  }
  static std::vector<std::string> args(std::vector<std::string> rest) {
    rest.insert(rest.begin(), HSMCTL_BINARY);
    return rest;
  }
  static constexpr const char* kSharePrompt = "type your share";
  std::filesystem::path shares_;
  std::string kcv_, commitments_;
};

TEST_F(ShareEntry, RestoreAcceptsFourLetterPrefixes) {
  PtySession t(args({"--token", "B", "master", "restore", "--json"}), env());
  std::vector<std::string> four;
  for (const auto& w : words_of(share("a"))) four.push_back(w.substr(0, 4));
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(join(four));
  ASSERT_TRUE(t.expect("Share of custodian 'a' accepted")) << t.screen();
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(share("c"));
  ASSERT_TRUE(t.expect("Share of custodian 'c' accepted")) << t.screen();
  ASSERT_EQ(t.wait(), 0) << t.screen() << t.err();
  EXPECT_EQ(nlohmann::json::parse(t.out())["kcv"], kcv_);
}

TEST_F(ShareEntry, AMisspeltWordIsSuggestedAndTypedAgainAlone) {
  auto words = words_of(share("b"));
  ASSERT_EQ(words.size(), 33u);  // a 256-bit master secret: 4 + 26 + 3 words
  const std::string right = words[4];
  const std::string typo = misspelt(right);
  ASSERT_FALSE(typo.empty()) << right;
  words[4] = typo;
  PtySession t(args({"--token", "B", "master", "restore", "--json"}), env());
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(join(words));
  ASSERT_TRUE(t.expect("word 5 '" + typo + "': did you mean '" + right + "'?")) << t.screen();
  ASSERT_TRUE(t.expect("Type word 5 again")) << t.screen();
  t.send_hidden(right);
  ASSERT_TRUE(t.expect("Share of custodian 'b' accepted")) << t.screen();
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(share("a"));
  ASSERT_EQ(t.wait(), 0) << t.screen() << t.err();
  EXPECT_EQ(nlohmann::json::parse(t.out())["kcv"], kcv_);
  // Neither the typo nor the word reaches the transcript.
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_EQ(transcript.find("'" + typo + "'"), std::string::npos);
  EXPECT_EQ(transcript.find(typo), std::string::npos);
}

TEST_F(ShareEntry, AFailedChecksumIsMendedByWordNumber) {
  auto words = words_of(share("a"));
  const std::string right = words[6];
  words[6] = right == "academic" ? "acid" : "academic";  // a list word: only the checksum fails
  PtySession t(args({"--token", "B", "master", "restore", "--json"}), env());
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(join(words));
  ASSERT_TRUE(t.expect("This share does not check")) << t.screen();
  ASSERT_TRUE(t.expect("word 7 is most likely wrong")) << t.screen();
  ASSERT_TRUE(t.expect("Type the number of a word")) << t.screen();
  t.send_line("show");  // the numbered words, on request, then cleared
  ASSERT_TRUE(t.expect("  7. " + words[6])) << t.screen();
  ASSERT_TRUE(t.expect("Press Enter to hide them.")) << t.screen();
  t.send_line("");
  ASSERT_TRUE(t.expect("\033[3J")) << t.screen();
  ASSERT_TRUE(t.expect("Type the number of a word")) << t.screen();
  t.send_line("7");
  ASSERT_TRUE(t.expect("Word 7:")) << t.screen();
  t.send_hidden(right);
  ASSERT_TRUE(t.expect("Share of custodian 'a' accepted")) << t.screen();
  ASSERT_TRUE(t.expect(kSharePrompt)) << t.screen();
  t.send_hidden(share("b"));
  ASSERT_EQ(t.wait(), 0) << t.screen() << t.err();
}

TEST_F(ShareEntry, VerifyShareNeedsNoTokenAndNoPin) {
  {
    PtySession t(args({"master", "verify-share", "--json"}), no_token_env());
    ASSERT_TRUE(t.expect("Your share")) << t.screen();
    std::vector<std::string> four;
    for (const auto& w : words_of(share("c"))) four.push_back(w.substr(0, 4));
    t.send_hidden(join(four));
    ASSERT_EQ(t.wait(), 0) << t.screen() << t.err();
    EXPECT_EQ(nlohmann::json::parse(t.out())["custodian"], "c");
    EXPECT_EQ(t.screen().find("PIN"), std::string::npos) << t.screen();
    EXPECT_EQ(t.screen().find(join(four)), std::string::npos) << "typed words were echoed";
  }
  {
    // A well-formed share of this set (same identifier and member, good checksum) whose value
    // is not the one committed to: exit 4, before anything asks for a PIN.
    slip39::Share forged = slip39::parse_mnemonic(Secret::copy_of(std::string_view(share("c"))));
    forged.value.data()[0] ^= 1;
    const Secret text = slip39::to_mnemonic(forged);
    PtySession t(args({"master", "verify-share"}), no_token_env());
    ASSERT_TRUE(t.expect("Your share")) << t.screen();
    t.send_hidden(std::string(text.chars()));
    ASSERT_EQ(t.wait(), 4) << t.screen() << t.err();
    EXPECT_NE(t.err().find("does not match its recorded commitment"), std::string::npos) << t.err();
    EXPECT_EQ(t.screen().find("PIN"), std::string::npos) << t.screen();
  }
}

TEST_F(ShareEntry, VerifyShareFromACommitmentsFileAloneOutsideAnyWorkspace) {
  // The file master init wrote is the one the transcript names, with its SHA-256.
  ASSERT_TRUE(std::filesystem::exists(commitments_)) << commitments_;
  const std::string doc = read_file(commitments_);
  const std::string sha = to_hex(crypto::sha256(as_bytes(doc)));
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(transcript.find("\"commitments_sha256\":\"" + sha + "\""), std::string::npos);
  EXPECT_NE(transcript.find("\"commitments_file\":\"" +
                            std::filesystem::path(commitments_).filename().string() + "\""),
            std::string::npos);
  EXPECT_EQ(doc.find(share("a").substr(0, share("a").find(' ', 20))), std::string::npos);

  const auto home = tmp_.path() / "custodian-home";
  make_private_dir(home);
  std::filesystem::copy_file(commitments_, home / "set.json");
  auto e = no_token_env();
  e["HSMCTL_DIR"] = home.string();
  auto run = [&](const std::vector<std::string>& a) {
    std::map<std::string, std::string> extra = e;
    extra["HSMCTL_PIN_SOURCE"] = "<unset>";
    extra["HSMCTL_TEST_PIN"] = "<unset>";
    extra["HSMCTL_TOKEN"] = "<unset>";
    return hsmctl(a, extra);
  };
  const auto set = (home / "set.json").string();
  const RunResult ok = run({"master", "verify-share", "--commitments", set, "--share-file",
                            (shares_ / "b.share").string(), "--json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.json()["custodian"], "b");
  EXPECT_FALSE(std::filesystem::exists(home / "keystore.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(home / "transcript.jsonl"));

  // Without a workspace or --commitments: exit 7 naming the option.
  expect_failure(run({"master", "verify-share", "--share-file", (shares_ / "b.share").string()}),
                 7, "--commitments FILE");

  // A misspelt word in a share file: named with its number and the suggestion, exit 4.
  auto words = words_of(share("b"));
  const std::string right = words[9];
  const std::string typo = misspelt(right);
  words[9] = typo;
  const auto bad = write_file("bad.share", join(words) + "\n");
  expect_failure(run({"master", "verify-share", "--commitments", set, "--share-file",
                      bad.string()}),
                 4, "word 10 '" + typo + "' of share 1 in '" + bad.string() +
                        "' is not a SLIP-0039 word; did you mean '" + right + "'?");
  // A commitments file that is not one: usage.
  const auto junk = write_file("junk.json", "{\"format\": \"something else\"}\n", 0644);
  expect_failure(run({"master", "verify-share", "--commitments", junk.string(), "--share-file",
                      (shares_ / "b.share").string()}),
                 2, "not an hsmctl commitments file");
}

TEST_F(ShareEntry, AMisspeltWordInASharesFileIsNamedBeforeAnyPinAndNotInTheTranscript) {
  auto words = words_of(share("a"));
  const std::string right = words[11];
  const std::string typo = misspelt(right);
  words[11] = typo;
  const auto file = write_file("in", share("c") + "\n" + join(words) + "\n");
  const std::string before = read_file(ws_ / "transcript.jsonl");
  expect_failure(hsmctl({"--token", "B", "master", "restore", "--shares-file", file.string()},
                        {{"HSMCTL_PIN_SOURCE", "env:NO_SUCH_PIN_VARIABLE"}}),
                 4, "word 12 '" + typo + "' of share 2 in '" + file.string() +
                        "' is not a SLIP-0039 word; did you mean '" + right + "'?");
  EXPECT_EQ(read_file(ws_ / "transcript.jsonl"), before);
}

}  // namespace
}  // namespace hsm::test
