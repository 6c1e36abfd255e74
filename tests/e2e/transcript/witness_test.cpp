// Witnesses end to end: two witnesses in their own directories cosign the log's checkpoints
// (C2SP tlog-cosignature), the log keeps the cosignatures, 'transcript verify --checkpoint'
// counts them, and a witness refuses a rollback and a fork of a log rewritten with the
// token's own key, keeping both checkpoints as evidence.
#include <filesystem>
#include <fstream>

#include "support/forge.h"  // split_lines, join_lines
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class Witness : public HsmTest {
 protected:
  void SetUp() override {
    write_file("ws/keystore.sqlite", "", 0600);  // a workspace: notes alone do not start one
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(note("note-" + std::to_string(i)).code, 0);
    const RunResult k = hsmctl({"transcript", "export-key", "--vkey"});
    ASSERT_EQ(k.code, 0) << k.err;
    log_vkey_ = write_file("log.vkey", k.out);
    origin_ = k.out.substr(0, k.out.find('+'));
    for (const std::string w : {"w1", "w2"}) {
      const RunResult r = hsmctl({"--dir", (tmp_.path() / w).string(), "witness", "init",
                                  "--name", w + ".example.org"});
      ASSERT_EQ(r.code, 0) << r.err;
      witness_vkey_[w] = write_file(w + ".vkey", r.out);
    }
  }
  RunResult note(const std::string& text) {
    return hsmctl({"transcript", "note", "--witness", "carol", text});
  }
  fs::path checkpoint_copy(const std::string& name) {
    return write_file(name, read_file(ws_ / "tlog" / "checkpoint"));
  }
  RunResult cosign(const std::string& w, const fs::path& checkpoint, const std::string& proof = {}) {
    std::vector<std::string> args{"--dir", (tmp_.path() / w).string(), "witness", "cosign",
                                  "--log-key", log_vkey_.string(), "--origin", origin_,
                                  checkpoint.string()};
    if (!proof.empty()) {
      args.push_back("--proof");
      args.push_back(proof);
    }
    return hsmctl(args);
  }
  void add(const std::string& w, const std::string& line) {
    const auto f = write_file("cosig-" + w, line);
    const RunResult r = hsmctl({"transcript", "add-cosignatures", f.string(), "--witness-key",
                                witness_vkey_[w].string()});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  RunResult verify(const fs::path& cp, int min) {
    return hsmctl({"transcript", "verify", "--checkpoint", cp.string(), "--log-key",
                   log_vkey_.string(), "--witness-key", witness_vkey_["w1"].string(),
                   "--witness-key", witness_vkey_["w2"].string(), "--min-cosigners",
                   std::to_string(min)});
  }

  fs::path log_vkey_;
  std::string origin_;
  std::map<std::string, fs::path> witness_vkey_;
};

TEST_F(Witness, TwoWitnessesCosignAndVerifyCountsThem) {
  const auto cp = checkpoint_copy("cp10");
  const RunResult c1 = cosign("w1", cp);
  ASSERT_EQ(c1.code, 0) << c1.err;
  EXPECT_EQ(c1.out.rfind("\xE2\x80\x94 w1.example.org ", 0), 0u) << c1.out;
  add("w1", c1.out);
  const auto kept = ws_ / "tlog" / "checkpoints" / "10";
  expect_failure(verify(kept, 2), 4, "1 valid cosignature");
  const RunResult c2 = cosign("w2", cp);
  ASSERT_EQ(c2.code, 0) << c2.err;
  add("w2", c2.out);
  const RunResult ok = verify(kept, 2);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("cosigned by 2 trusted witnesses"), std::string::npos) << ok.out;
  // A cosignature line from an unknown witness is not taken.
  const auto stranger = write_file("stranger", c1.out);
  expect_failure(hsmctl({"transcript", "add-cosignatures", stranger.string(), "--witness-key",
                         witness_vkey_["w2"].string()}), 4, "matches none");
}

TEST_F(Witness, TheLogGrowsWithAConsistencyProof) {
  ASSERT_EQ(cosign("w1", checkpoint_copy("cp10")).code, 0);
  ASSERT_EQ(note("note-4").code, 0);
  const auto cp13 = checkpoint_copy("cp13");
  // Without a proof from size 10 the witness cannot tell, and says what it needs.
  expect_failure(cosign("w1", cp13), 4, "prove --consistency 10 13");
  // A proof for other sizes does not link them (and is kept: it might be a fork).
  const auto wrong = write_file("wrong", hsmctl({"transcript", "prove", "--consistency", "9", "13"}).out);
  expect_failure(cosign("w1", cp13, wrong.string()), 4, "proof starts at size 9");
  const RunResult proof = hsmctl({"transcript", "prove", "--consistency", "10", "13"});
  ASSERT_EQ(proof.code, 0) << proof.err;
  const auto pf = write_file("proof", proof.out);
  const RunResult c = cosign("w1", cp13, pf.string());
  ASSERT_EQ(c.code, 0) << c.err;
  const RunResult st = hsmctl({"--dir", (tmp_.path() / "w1").string(), "--json", "witness",
                               "status", "--origin", origin_});
  EXPECT_EQ(st.json()["size"], 13);
}

TEST_F(Witness, ARollbackAndAForkAreRefusedWithEvidence) {
  ASSERT_EQ(note("note-4").code, 0);
  ASSERT_EQ(cosign("w1", checkpoint_copy("cp13")).code, 0);
  // The insider with the PIN rewrites the last two ceremonies; hsmctl re-signs with the token.
  auto lines = split_lines(read_file(ws_ / "transcript.jsonl"));
  lines.resize(7);
  std::ofstream(ws_ / "transcript.jsonl", std::ios::trunc) << join_lines(lines);
  fs::remove_all(ws_ / "tlog");
  ASSERT_EQ(note("other-1").code, 0);  // size 10
  expect_failure(cosign("w1", checkpoint_copy("fork10")), 4, "rollback");
  ASSERT_EQ(note("other-2").code, 0);  // size 13, another root
  expect_failure(cosign("w1", checkpoint_copy("fork13")), 4, "fork");
  std::size_t evidence = 0;
  for (const auto& f : fs::directory_iterator(tmp_.path() / "w1" / "evidence")) {
    ++evidence;
    EXPECT_NE(read_file(f.path()).find("last cosigned:"), std::string::npos);
  }
  EXPECT_EQ(evidence, 2u);
  // The witness still holds the honest size.
  const RunResult st = hsmctl({"--dir", (tmp_.path() / "w1").string(), "--json", "witness",
                               "status", "--origin", origin_});
  EXPECT_EQ(st.json()["size"], 13);
}

TEST_F(Witness, ACheckpointTheLogKeyDidNotSignIsRefused) {
  std::string text = read_file(ws_ / "tlog" / "checkpoint");
  text.replace(text.find("\n10\n"), 4, "\n11\n");
  expect_failure(cosign("w1", write_file("bad", text)), 4, "not signed by the log key");
  expect_failure(hsmctl({"--dir", (tmp_.path() / "w1").string(), "witness", "init", "--name",
                         "again.example"}), 7, "already holds a witness");
  expect_failure(hsmctl({"--dir", (tmp_.path() / "w3").string(), "witness", "init", "--name",
                         "has space"}), 2, "not a valid key name");
}

}  // namespace
}  // namespace hsm::test
