// The transcript as a transparency log, end to end on SoftHSM: a checkpoint after every
// ceremony that stock OpenSSL verifies, proofs that check against it, a C2SP tiles copy, and
// the tamper classes (truncate, rewrite and re-sign with the token's own key) caught by
// 'transcript verify --checkpoint' with no head written on paper.
#include <filesystem>
#include <fstream>

#include "core/bytes.h"
#include "support/forge.h"  // split_lines, join_lines
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

class Tlog : public HsmTest {
 protected:
  void SetUp() override {
    write_file("ws/keystore.sqlite", "", 0600);  // a workspace: notes alone do not start one
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(note("note-" + std::to_string(i)).code, 0);
  }
  RunResult note(const std::string& text) {
    return hsmctl({"transcript", "note", "--witness", "carol", text});
  }
  fs::path transcript() const { return ws_ / "transcript.jsonl"; }
  fs::path kept() const { return ws_ / "tlog" / "checkpoint"; }
  // A copy of the checkpoint as a witness or an auditor keeps it, away from the workspace.
  fs::path keep_checkpoint(const std::string& name) {
    return write_file(name, read_file(kept()));
  }
  RunResult verify_with(const fs::path& checkpoint, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"transcript", "verify", "--checkpoint", checkpoint.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
};

TEST_F(Tlog, EveryCeremonyEndsWithACheckpointThatOpensslVerifies) {
  // 1 + 3 * 3 entries: the checkpoint covers the last ceremony.end.
  const std::string note = read_file(kept());
  const auto lines = split_lines(note);
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[1], "10");
  const std::string origin = lines[0];
  EXPECT_EQ(origin.rfind("hsmctl/", 0), 0u) << origin;
  EXPECT_EQ(lines[3], "");
  // "— origin base64(keyid || DER signature)" over the note text (the first three lines).
  const std::string sig_line = lines[4];
  const std::string prefix = "\xE2\x80\x94 " + origin + " ";
  ASSERT_EQ(sig_line.rfind(prefix, 0), 0u) << sig_line;
  const Bytes raw = from_base64(sig_line.substr(prefix.size()));
  const auto text = write_file("note.txt", note.substr(0, note.find("\n\n") + 1));
  const auto sig = write_file("sig.der", std::string(raw.begin() + 4, raw.end()));
  const auto key = write_file("key.pem", hsmctl({"transcript", "export-key"}).out);
  const RunResult r = openssl({"dgst", "-sha256", "-verify", key.string(), "-signature",
                               sig.string(), text.string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  // The key ID is the first four bytes of SHA-256(DER SPKI) (signed-note type 0x02).
  const RunResult der = openssl({"pkey", "-pubin", "-in", key.string(), "-outform", "DER",
                                 "-out", (tmp_.path() / "key.der").string()});
  ASSERT_EQ(der.code, 0) << der.err;
  const RunResult dg = openssl({"dgst", "-sha256", "-r", (tmp_.path() / "key.der").string()});
  EXPECT_EQ(dg.out.substr(0, 8), to_hex(ByteView(raw.data(), 4)));
}

TEST_F(Tlog, TranscriptCheckpointCommandSignsTheWholeLog) {
  const RunResult r = hsmctl({"--json", "transcript", "checkpoint"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["size"], 12);  // its own begin and end are in it
  EXPECT_EQ(j["checkpoint"].get<std::string>(), read_file(kept()));
  const RunResult out = hsmctl({"transcript", "checkpoint", "--out", (tmp_.path() / "cp").string()});
  ASSERT_EQ(out.code, 0) << out.err;
  expect_failure(hsmctl({"transcript", "checkpoint", "--out", (tmp_.path() / "cp").string()}), 7,
                 "exists");
}

TEST_F(Tlog, AnInclusionProofChecksAgainstTheCheckpoint) {
  const RunResult r = hsmctl({"--json", "transcript", "prove", "--seq", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["size"], 10);
  EXPECT_EQ(j["entry"].get<std::string>(), split_lines(read_file(transcript()))[4]);
  EXPECT_EQ(j["root"].get<std::string>(), split_lines(read_file(kept()))[2]);
  EXPECT_EQ(j["proof"].size(), 4u);  // ceil(log2(10))
  expect_failure(hsmctl({"transcript", "prove", "--seq", "10"}), 2, "no entry 10");
  expect_failure(hsmctl({"transcript", "prove", "--seq", "1", "--size", "99"}), 2, "larger than the log");
  expect_failure(hsmctl({"transcript", "prove"}), 2, "--seq N or --consistency A B");
  const RunResult c = hsmctl({"--json", "transcript", "prove", "--consistency", "4", "10"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.json()["old_size"], 4);
  expect_failure(hsmctl({"transcript", "prove", "--consistency", "9", "4"}), 2, "smaller size first");
}

TEST_F(Tlog, VerifyAgainstTheCheckpointPassesForTheLogAsItIs) {
  const auto cp = keep_checkpoint("cp-10");
  ASSERT_EQ(note("note-4").code, 0);  // the log grew: still consistent with the old checkpoint
  const RunResult r = verify_with(cp, {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["checkpoint"]["size"], 10);
  EXPECT_EQ(r.json()["entries"], 13);
}

TEST_F(Tlog, ATruncatedLogFailsAgainstTheCheckpoint) {
  const auto cp = keep_checkpoint("cp");
  auto lines = split_lines(read_file(transcript()));
  lines.resize(7);  // the last ceremony is gone; the chain that is left is intact
  const auto cut = write_file("cut.jsonl", join_lines(lines));
  ASSERT_EQ(hsmctl({"transcript", "verify", cut.string()}).code, 0);  // without the checkpoint
  expect_failure(hsmctl({"transcript", "verify", cut.string(), "--checkpoint", cp.string()}), 4,
                 "truncated");
}

TEST_F(Tlog, ALogRewrittenAndReSignedWithTheTokensKeyIsAFork) {
  const auto cp = keep_checkpoint("cp");
  // The insider with the PIN: cuts the last ceremony, removes the index and checkpoint that
  // would betray it, and lets hsmctl itself (the token's transcript key) sign new history.
  auto lines = split_lines(read_file(transcript()));
  lines.resize(7);
  std::ofstream(transcript(), std::ios::trunc) << join_lines(lines);
  fs::remove_all(ws_ / "tlog");
  ASSERT_EQ(note("a different story").code, 0);
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);  // every signature is good
  expect_failure(verify_with(cp), 4, "rewritten");
}

TEST_F(Tlog, ACheckpointSignedByAnotherKeyIsRefused) {
  auto note = read_file(kept());
  // Another key's signature under the same name: not the log key, so nothing verifies.
  const auto cp = write_file("forged", note.substr(0, note.find("\n\n") + 2) + "\xE2\x80\x94 " +
                                           split_lines(note)[0] + " AAAAAAAAAAAAAAAAAAAAAAAA\n");
  expect_failure(verify_with(cp), 4, "not signed by the log key");
  const auto key = write_file("vkey", "example.org/log+00000000+AAAA\n");
  expect_failure(verify_with(kept(), {"--log-key", key.string()}), 2, "verifier key");
}

TEST_F(Tlog, TamperingWithTheIndexOrTheLogIsNoticedAtTheNextAppend) {
  auto lines = split_lines(read_file(transcript()));
  lines.pop_back();
  std::ofstream(transcript(), std::ios::trunc) << join_lines(lines);
  expect_failure(note("after a cut"), 4, "truncated");
}

TEST_F(Tlog, PublishWritesC2spTilesAndIsIncremental) {
  const auto out = tmp_.path() / "pub";
  const RunResult r = hsmctl({"--json", "transcript", "publish", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file(out / "checkpoint"), read_file(kept()));
  // 10 entries: one partial level-0 tile of width 10 and its entry bundle.
  EXPECT_EQ(fs::file_size(out / "tile/0/000.p/10"), 10u * 32);
  const std::string bundle = read_file(out / "tile/entries/000.p/10");
  const auto lines = split_lines(read_file(transcript()));
  std::size_t at = 0;
  for (const auto& line : lines) {
    ASSERT_LT(at + 2, bundle.size());
    const std::size_t n = (static_cast<unsigned char>(bundle[at]) << 8) | static_cast<unsigned char>(bundle[at + 1]);
    EXPECT_EQ(bundle.substr(at + 2, n), line);
    at += 2 + n;
  }
  EXPECT_EQ(at, bundle.size());
  ASSERT_EQ(note("more").code, 0);
  ASSERT_EQ(hsmctl({"transcript", "publish", out.string()}).code, 0);
  EXPECT_TRUE(fs::exists(out / "tile/0/000.p/13"));
  expect_failure(hsmctl({"transcript", "publish", (tmp_.path() / "x").string(), "--dir",
                         (tmp_.path() / "empty").string()}), 7, "does not exist");
}

}  // namespace
}  // namespace hsm::test
