// The workspace log checked by a second implementation: scripts/verify-transcript, written from
// hsmctl-transcript(5) alone, against what the built hsmctl makes on SoftHSM. It must accept the
// checkpoint (under the transcript's own keys and under the log vkey the man page's recipe
// makes), inclusion proofs of every entry, consistency proofs and the published tiles (past one
// full tile), and refuse a flipped root, a truncated or rewritten log, a proof for another size
// and a flipped tile byte; Ed25519 cosignatures made here with python3-cryptography must verify
// in both implementations.
#include <filesystem>
#include <fstream>

#include "core/bytes.h"
#include "support/forge.h"  // split_lines, join_lines
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

// A witness, written here from C2SP tlog-cosignature: a new Ed25519 key named argv[1] cosigns
// the note in argv[2] (type 0x04), writes the note with its line added to argv[3] and its vkey
// to argv[4].
constexpr const char* kCosign = R"py(import base64, hashlib, sys, time
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
name, note_in, note_out, vkey_out = sys.argv[1:5]
key = ed25519.Ed25519PrivateKey.generate()
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
key_id = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
note = open(note_in, "rb").read()
text = note[:note.rindex(b"\n\n") + 1]
t = int(time.time())
sig = key.sign(b"cosignature/v1\ntime %d\n" % t + text)
line = "\u2014 %s %s\n" % (name, base64.b64encode(key_id + t.to_bytes(8, "big") + sig).decode())
open(note_out, "wb").write(note + line.encode())
vkey = base64.b64encode(b"\x04" + pub).decode()
open(vkey_out, "w").write("%s+%s+%s\n" % (name, key_id.hex(), vkey))
)py";

// Flips one bit of byte argv[3] of the base64 on line argv[2] (1-based; the last field of the
// line) of file argv[1], in place.
constexpr const char* kFlip = R"py(import base64, sys
path, n, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(path, encoding="utf-8").read().split("\n")
head, _, b64 = lines[n - 1].rpartition(" ")
raw = bytearray(base64.b64decode(b64))
raw[at] ^= 1
lines[n - 1] = (head + " " if head else "") + base64.b64encode(bytes(raw)).decode()
open(path, "w", encoding="utf-8").write("\n".join(lines))
)py";

// The man page's recipe (hsmctl-transcript(5) EXAMPLES) for the log's vkey, from the checkpoint
// argv[1] and the PEM key argv[2], run by /bin/sh.
constexpr const char* kVkeyRecipe = R"sh(cp=$1
openssl pkey -pubin -in "$2" -outform DER -out key.der
id=$(openssl dgst -sha256 -r key.der | cut -c1-8)
printf '%s+%s+%s\n' "$(head -n 1 "$cp")" "$id" \
    "$( (printf '\002'; cat key.der) | base64 -w0)"
)sh";

class TlogVerifier : public HsmTest {
 protected:
  void SetUp() override {
    // A key change first (the escrowed key signs from master init on), then a few ceremonies.
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(note("note-" + std::to_string(i)).code, 0);
    cp_ = keep("cp");
    size_ = std::stoull(split_lines(read_file(cp_))[1]);
    ASSERT_EQ(size_, split_lines(read_file(transcript())).size());
  }
  RunResult note(const std::string& text) {
    return hsmctl({"transcript", "note", "--witness", "carol", text});
  }
  fs::path transcript() const { return ws_ / "transcript.jsonl"; }
  // A copy of the kept checkpoint, as a witness or an auditor keeps it.
  fs::path keep(const std::string& name) {
    return write_file(name, read_file(ws_ / "tlog" / "checkpoint"), 0644);
  }
  RunResult python(const char* script, std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/python3", "-c", script});
    return run_program(args);
  }
  // scripts/verify-transcript ARGS... TRANSCRIPT
  RunResult verifier(std::vector<std::string> args, const fs::path& log = {}) {
    args.insert(args.begin(), {"/usr/bin/python3", "-B",
                               std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript"});
    args.push_back((log.empty() ? transcript() : log).string());
    return run_program(args);
  }
  fs::path prove(const std::string& name, const std::vector<std::string>& what) {
    std::vector<std::string> args{"--json", "transcript", "prove"};
    args.insert(args.end(), what.begin(), what.end());
    const RunResult r = hsmctl(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return write_file(name, r.out, 0644);
  }
  fs::path flipped(const fs::path& from, const std::string& name, int line, int at) {
    const auto out = write_file(name, read_file(from), 0644);
    const RunResult r = python(kFlip, {out.string(), std::to_string(line), std::to_string(at)});
    EXPECT_EQ(r.code, 0) << r.err;
    return out;
  }
  // The proof JSON in `from` with one bit flipped in its first proof hash.
  fs::path with_flipped_hash(const fs::path& from, const std::string& name) {
    nlohmann::json j = nlohmann::json::parse(read_file(from));
    Bytes h = from_base64(j["proof"][0].get<std::string>());
    h[0] ^= 1;
    j["proof"][0] = to_base64(h);
    return write_file(name, j.dump(), 0644);
  }
  fs::path cp_;
  std::uint64_t size_ = 0;
};

// Exit 4 and a "FAIL ..." line that contains `needle`.
void expect_verifier_fails(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  const auto lines = split_lines(r.out);
  ASSERT_FALSE(lines.empty()) << r.err;
  EXPECT_EQ(lines.back().rfind("FAIL ", 0), 0u) << r.out;
  EXPECT_NE(lines.back().find(needle), std::string::npos) << r.out;
}

TEST_F(TlogVerifier, AcceptsTheCheckpointUnderTheLogsOwnKeysAndTheManPagesVkey) {
  const RunResult ok = verifier({"--checkpoint", cp_.string()});
  ASSERT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK checkpoint " + cp_.string() + ": the first " +
                        std::to_string(size_) + " entries have its root"), std::string::npos)
      << ok.out;
  // The default origin: "hsmctl/" and 16 hex digits of entry 0's leaf hash, by the man page.
  const RunResult leaf = run_program({"/bin/sh", "-c", "(printf '\\000'; head -n 1 \"$1\" | tr -d "
                                      "'\\n') | sha256sum | cut -c1-16", "sh",
                                      transcript().string()});
  EXPECT_EQ("hsmctl/" + leaf.out.substr(0, 16), split_lines(read_file(cp_))[0]);
  // The log vkey by the man page's recipe, from export-key (the escrowed key signs now).
  const auto pem = write_file("key.pem", hsmctl({"transcript", "export-key"}).out);
  const RunResult vk = run_program({"/bin/sh", "-c", std::string("cd \"$3\" && ") + kVkeyRecipe,
                                    "sh", cp_.string(), pem.string(), tmp_.path().string()});
  ASSERT_EQ(vk.code, 0) << vk.err;
  const auto vkey = write_file("log.vkey", vk.out, 0644);
  const RunResult with_key = verifier({"--checkpoint", cp_.string(), "--log-key", vkey.string()});
  EXPECT_EQ(with_key.code, 0) << with_key.out << with_key.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--checkpoint", cp_.string(), "--log-key",
                    vkey.string()}).code, 0);
  // The opening key's vkey did not sign this checkpoint: both refuse it.
  const auto opening = write_file("opening.pem",
                                  hsmctl({"transcript", "export-key", "--opening"}).out);
  const RunResult ov = run_program({"/bin/sh", "-c", std::string("cd \"$3\" && ") + kVkeyRecipe,
                                    "sh", cp_.string(), opening.string(), tmp_.path().string()});
  const auto old_key = write_file("opening.vkey", ov.out, 0644);
  expect_verifier_fails(verifier({"--checkpoint", cp_.string(), "--log-key", old_key.string()}),
                        "not signed by the log key");
  expect_failure(hsmctl({"transcript", "verify", "--checkpoint", cp_.string(), "--log-key",
                         old_key.string()}), 4, "not signed by the log key");
}

TEST_F(TlogVerifier, AcceptsAnInclusionProofOfEveryEntryAndConsistencyProofs) {
  std::vector<std::string> args{"--checkpoint", cp_.string()};
  for (std::uint64_t seq = 0; seq < size_; ++seq) {
    args.push_back("--proof");
    args.push_back(prove("inc-" + std::to_string(seq), {"--seq", std::to_string(seq)}).string());
  }
  for (std::uint64_t a : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4}, std::uint64_t{7},
                          size_ - 1, size_}) {
    args.push_back("--proof");
    args.push_back(prove("cons-" + std::to_string(a),
                         {"--consistency", std::to_string(a), std::to_string(size_)}).string());
  }
  const RunResult r = verifier(args);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("entry " + std::to_string(size_ - 1) + " is in the tree of size " +
                       std::to_string(size_)), std::string::npos) << r.out;
  // The log grew: a proof from the kept checkpoint's size to the new one links them.
  ASSERT_EQ(note("later").code, 0);
  const auto grew = prove("grew", {"--consistency", std::to_string(size_),
                                   std::to_string(size_ + 3)});
  const RunResult g = verifier({"--checkpoint", cp_.string(), "--proof", grew.string()});
  EXPECT_EQ(g.code, 0) << g.out << g.err;
}

TEST_F(TlogVerifier, RefusesAFlippedRootATruncatedOrRewrittenLogAndAProofForAnotherSize) {
  const auto flipped_root = flipped(cp_, "cp-flipped", 3, 5);
  expect_verifier_fails(verifier({"--checkpoint", flipped_root.string()}), "does not verify");
  expect_failure(hsmctl({"transcript", "verify", "--checkpoint", flipped_root.string()}), 4,
                 "does not verify");

  auto lines = split_lines(read_file(transcript()));
  lines.resize(lines.size() - 3);  // the last ceremony cut off; the chain that is left is intact
  const auto cut = write_file("cut.jsonl", join_lines(lines));
  ASSERT_EQ(verifier({}, cut).code, 0);
  expect_verifier_fails(verifier({"--checkpoint", cp_.string()}, cut), "truncated");

  const auto other = prove("other-size", {"--seq", "3", "--size", std::to_string(size_ - 1)});
  expect_verifier_fails(verifier({"--checkpoint", cp_.string(), "--proof", other.string()}),
                        "tree size " + std::to_string(size_ - 1));
  const auto cons = prove("cons", {"--consistency", "5", std::to_string(size_)});
  expect_verifier_fails(verifier({"--checkpoint", cp_.string(), "--proof",
                                  with_flipped_hash(cons, "cons-bad").string()}),
                        "does not link");
  const auto inc = prove("inc", {"--seq", "2"});
  expect_verifier_fails(verifier({"--checkpoint", cp_.string(), "--proof",
                                  with_flipped_hash(inc, "inc-bad").string()}),
                        "does not lead to the root");

  // The insider with the PIN rewrites the last ceremony and lets the token re-sign it.
  std::ofstream(transcript(), std::ios::trunc) << join_lines(lines);
  fs::remove_all(ws_ / "tlog");
  ASSERT_EQ(note("a different story").code, 0);
  ASSERT_EQ(verifier({"--strict"}).code, 0);
  expect_verifier_fails(verifier({"--checkpoint", cp_.string()}), "rewritten (a fork)");
}

TEST_F(TlogVerifier, ChecksPublishedTilesPastOneFullTileAndRefusesAFlippedByte) {
  const auto pub = tmp_.path() / "pub";
  ASSERT_EQ(hsmctl({"transcript", "publish", pub.string()}).code, 0);
  const RunResult small = verifier({"--tiles", pub.string()});
  ASSERT_EQ(small.code, 0) << small.out << small.err;
  while (split_lines(read_file(transcript())).size() < 270) ASSERT_EQ(note("fill").code, 0);
  ASSERT_EQ(hsmctl({"transcript", "publish", pub.string()}).code, 0);  // incremental
  const std::uint64_t size = std::stoull(split_lines(read_file(pub / "checkpoint"))[1]);
  const std::string w = std::to_string(size - 256);
  for (const std::string& rel : std::vector<std::string>{
           "tile/0/000", "tile/0/001.p/" + w, "tile/1/000.p/1", "tile/entries/000",
           "tile/entries/001.p/" + w, "tile/0/000.p/" + std::to_string(size_)})  // the earlier one
    EXPECT_TRUE(fs::exists(pub / rel)) << rel;
  const RunResult r = verifier({"--tiles", pub.string()});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("4 tiles and 3 entry bundles match"), std::string::npos) << r.out;

  for (const std::string& rel : std::vector<std::string>{"tile/0/000", "tile/entries/001.p/" + w}) {
    const auto copy = tmp_.path() / ("copy-" + std::to_string(rel.size()));
    fs::copy(pub, copy, fs::copy_options::recursive);
    std::fstream f(copy / rel, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    const char c = static_cast<char>(f.get());
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x01));
    f.close();
    expect_verifier_fails(verifier({"--tiles", copy.string()}), rel + ":");
  }
}

TEST_F(TlogVerifier, Ed25519CosignaturesMadeHereVerifyInBothImplementations) {
  const fs::path one = tmp_.path() / "cp-w1", two = tmp_.path() / "cp-w2";
  const fs::path w1 = tmp_.path() / "w1.vkey", w2 = tmp_.path() / "w2.vkey";
  const fs::path w3 = tmp_.path() / "w3.vkey", scratch = tmp_.path() / "x";
  auto cosign = [&](const char* name, const fs::path& in, const fs::path& out, const fs::path& vk) {
    const RunResult r = python(kCosign, {name, in.string(), out.string(), vk.string()});
    EXPECT_EQ(r.code, 0) << r.err;
  };
  cosign("witness.example/w1", cp_, one, w1);
  cosign("witness.example/w2", one, two, w2);
  cosign("witness.example/w3", cp_, scratch, w3);  // a trusted witness that did not cosign
  const std::vector<std::string> trust{"--witness-key", w1.string(), "--witness-key", w2.string(),
                                       "--witness-key", w3.string()};
  auto with = [&](const fs::path& cp, const std::string& k) {
    std::vector<std::string> a{"--checkpoint", cp.string(), "--min-cosigners", k};
    a.insert(a.end(), trust.begin(), trust.end());
    return a;
  };
  const RunResult ok = verifier(with(two, "2"));
  ASSERT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("2 trusted cosigners (witness.example/w1, witness.example/w2)"),
            std::string::npos) << ok.out;
  auto args = with(two, "2");
  args.insert(args.begin(), {"--json", "transcript", "verify"});
  const RunResult h = hsmctl(args);
  ASSERT_EQ(h.code, 0) << h.err;
  EXPECT_EQ(h.json()["checkpoint"]["cosigners"].size(), 2u);

  expect_verifier_fails(verifier(with(two, "3")), "at least 3 required");
  args = with(two, "3");
  args.insert(args.begin(), {"transcript", "verify"});
  expect_failure(hsmctl(args), 4, "at least 3 required");
  expect_verifier_fails(verifier({"--checkpoint", two.string(), "--witness-key", w3.string(),
                                  "--min-cosigners", "1"}), "at least 1 required");
  // w2's signature with one bit flipped (line 7: after the log's and w1's signature lines).
  const auto bad = flipped(two, "cp-bad", 7, 4 + 8 + 20);
  expect_verifier_fails(verifier(with(bad, "1")), "witness 'witness.example/w2' does not verify");
  args = with(bad, "1");
  args.insert(args.begin(), {"transcript", "verify"});
  expect_failure(hsmctl(args), 4, "witness.example/w2");
  // Another note text under the same cosignature: the checkpoint of a later size.
  ASSERT_EQ(note("later").code, 0);
  const auto later = keep("cp-later");
  const auto moved = write_file("cp-moved", read_file(later) + split_lines(read_file(two))[5] +
                                                "\n", 0644);
  expect_verifier_fails(verifier(with(moved, "0")), "does not verify");
}

}  // namespace
}  // namespace hsm::test
