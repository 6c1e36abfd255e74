// Deferred signatures (docs/design.md, "Deferred signatures"): entries written unsigned while
// deferred are trusted by their own writer, covered by the next signed entry of their ceremony
// and then verify, in hsmctl and in scripts/verify-transcript alike. Unsigned entries nobody
// covered (a writer that died, lines put at the end without the key) are an unsealed tail:
// ignored by every state check, refused by both verifiers at their first seq, and cut by the
// next append, which keeps a copy, cuts the tree index with them and records the cut; never
// covered; a tail that does not continue the log is refused, not cut. Lines appended by another
// writer while one holds unsigned entries are refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/transcript/appender.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/verify.h"
#include "support/forge.h"
#include "support/hsm_fixture.h"
#include "support/process.h"

namespace hsm::transcript {
namespace {

using test::ForgedSigner;

constexpr const char* kBatch = "00000000-0000-4000-8000-00000000000b";
constexpr const char* kOther = "00000000-0000-4000-8000-00000000000c";

std::string root(char c) { return std::string(64, c); }

class Deferred : public ::testing::Test {
 protected:
  Deferred() {
    Transcript t(file());
    t.append("transcript.open", "test", "00000000-0000-4000-8000-00000000000a",
             {{"alg", kAlgorithm}, {"public_key", to_base64(signer_.public_key())},
              {"key_id", "01"}},
             signer_);
    t.append("ceremony.end", "test", "00000000-0000-4000-8000-00000000000a",
             {{"state", {{"root", root('a')}}}}, signer_);
  }
  std::filesystem::path file() const { return dir_.path() / "transcript.jsonl"; }
  std::string content() const {
    std::ifstream in(file());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  VerifyReport verify() const { return verify_transcript(content(), VerifyOptions{}); }
  // scripts/verify-transcript, the second implementation: its exit code and its line.
  test::RunResult python_verify() const {
    return test::run_program({"/usr/bin/python3", "-B",
                              std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
                              file().string()});
  }
  // A batch of `n` unsigned entries, the last of which records state root `r`, left as a
  // process killed before its seal leaves them.
  void die_in_batch(int n, char r) {
    Transcript t(file());
    t.append("ceremony.begin", "test", kBatch, {{"what", "serve.sign"}}, signer_);
    t.defer_signatures(true);
    for (int i = 0; i < n; ++i)
      t.append("user.signed", "test", kBatch,
               i == n - 1 ? nlohmann::json{{"state", {{"root", root(r)}}}}
                          : nlohmann::json{{"n", i}},
               signer_);
  }

  // An unsigned user.signed entry of the batch's ceremony, hashed, as anyone can make one.
  static Entry unsigned_entry(std::uint64_t seq, const std::string& prev, nlohmann::json data) {
    Entry e;
    e.seq = seq;
    e.time = "2026-12-07T00:00:00Z";
    e.ceremony = kBatch;
    e.event = "user.signed";
    e.actor = "test";
    e.data = std::move(data);
    e.prev = prev;
    e.hash = body_hash(e);
    return e;
  }

  hsm::test::TempDir dir_;
  ForgedSigner signer_;
};

TEST_F(Deferred, UnsignedEntriesAreTrustedByTheirWriterAndCoveredByTheNextSignedEntry) {
  Transcript t(file());
  t.append("ceremony.begin", "test", kBatch, {{"what", "serve.sign"}}, signer_);
  t.defer_signatures(true);
  const Entry a = t.append("user.signed", "test", kBatch, {{"state", {{"root", root('b')}}}}, signer_);
  const Entry b = t.append("user.signed", "test", kBatch, {{"n", 2}}, signer_);
  EXPECT_EQ(a.sig, "");
  EXPECT_EQ(b.sig, "");
  // No entry of another ceremony may follow them before they are covered.
  EXPECT_THROW(t.append("ceremony.end", "test", kOther, nlohmann::json::object(), signer_), Error);
  // The writer trusts its own entries; anyone else does not (yet), and no checkpoint covers them.
  ASSERT_TRUE(t.latest_state());
  EXPECT_EQ(t.latest_state()->root, root('b'));
  Transcript other(file());
  ASSERT_TRUE(other.latest_state());
  EXPECT_EQ(other.latest_state()->root, root('a'));
  EXPECT_EQ(other.sealed_entries(), a.seq);
  EXPECT_EQ(other.state().unsigned_tail, 2u);

  t.defer_signatures(false);
  const Entry seal = t.append("ceremony.sealed", "test", kBatch, {{"entries", 2}}, signer_);
  EXPECT_FALSE(seal.sig.empty());
  // Now covered: a fresh reader takes the unsigned entry's state through the seal's signature.
  Transcript fresh(file());
  ASSERT_TRUE(fresh.latest_state());
  EXPECT_EQ(fresh.latest_state()->root, root('b'));
  EXPECT_EQ(fresh.sealed_entries(), seal.seq + 1);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.unsigned_entries, 2u);
  EXPECT_EQ(r.entries, seal.seq + 1);
  const test::RunResult py = python_verify();
  EXPECT_EQ(py.code, 0) << py.out << py.err;
}

TEST_F(Deferred, AnUnsealedTailIsIgnoredRefusedThenCutKeptAndRecorded) {
  die_in_batch(3, 'c');
  const std::string before = content();
  Transcript t(file());
  EXPECT_EQ(t.state().unsigned_tail, 3u);
  ASSERT_TRUE(t.latest_state());
  EXPECT_EQ(t.latest_state()->root, root('a'));  // the tail's state is not the keystore's
  // Both verifiers refuse it, at its first entry (seq 3: open, end, begin before it).
  const VerifyReport r = verify();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(r.bad_seq);
  EXPECT_EQ(*r.bad_seq, 3u);
  EXPECT_NE(r.reason.find("unsealed tail"), std::string::npos) << r.reason;
  const test::RunResult py = python_verify();
  EXPECT_EQ(py.code, 4) << py.out << py.err;
  EXPECT_NE(py.out.find("FAIL seq 3:"), std::string::npos) << py.out;

  // The next append cuts it (never covers it), records the cut and keeps what it cut.
  const Entry e = t.append("ceremony.interrupted", "test", kOther, {{"ceremony", kBatch}}, signer_);
  EXPECT_EQ(e.seq, 4u);
  const std::vector<std::string> lines = test::split_lines(content());
  ASSERT_EQ(lines.size(), 5u);
  const Entry cut = test::parse_line(lines[3]);
  EXPECT_EQ(cut.event, "transcript.unsealed-cut");
  EXPECT_EQ(cut.data["entries"], 3);
  EXPECT_EQ(cut.data["from"], 3);
  const auto copy = dir_.path() / cut.data["copy"].get<std::string>();
  ASSERT_TRUE(std::filesystem::exists(copy));
  std::ifstream in(copy);
  std::stringstream kept;
  kept << in.rdbuf();
  EXPECT_TRUE(before.ends_with(kept.str()));
  EXPECT_EQ(test::split_lines(kept.str()).size(), 3u);
  // The tree index was cut with the file: it holds exactly the entries there are.
  EXPECT_EQ(t.tree().size(), 5u);
  EXPECT_EQ(Transcript(file()).tree().size(), 5u);
  const VerifyReport after = verify();
  EXPECT_TRUE(after.ok) << after.reason;
  EXPECT_EQ(after.unsigned_entries, 0u);
  EXPECT_EQ(python_verify().code, 0);
}

TEST_F(Deferred, UnsignedLinesPutThereWithoutTheKeyAreCutNotCovered) {
  // An insider who can write the file but not sign: a well-formed, chained, unsigned entry
  // claiming a keystore state, and an unsigned key change to a key of theirs.
  test::ForgedKey theirs;
  Transcript reader(file());
  const TranscriptState st = reader.state();
  const Entry fake = unsigned_entry(st.entries, st.head, {{"state", {{"root", root('f')}}}});
  Entry key = fake;
  key.seq = fake.seq + 1;
  key.event = "transcript.key";
  key.data = {{"alg", kAlgorithm}, {"public_key", to_base64(theirs.spki())}, {"key_id", "02"}};
  key.prev = fake.hash;
  key.hash = body_hash(key);
  std::ofstream(file(), std::ios::app) << to_line(fake) << "\n" << to_line(key) << "\n";

  Transcript t(file());
  EXPECT_EQ(t.state().current_key, signer_.public_key());  // an unsigned key entry is none
  ASSERT_TRUE(t.latest_state());
  EXPECT_EQ(t.latest_state()->root, root('a'));
  EXPECT_FALSE(verify().ok);
  EXPECT_EQ(python_verify().code, 4);
  // A signed entry of the same ceremony, by the real key, does not cover them: they are cut.
  const Entry e = t.append("ceremony.end", "test", kBatch, nlohmann::json::object(), signer_);
  EXPECT_EQ(e.seq, fake.seq + 1);
  EXPECT_EQ(content().find(root('f')), std::string::npos);
  EXPECT_TRUE(verify().ok);
  EXPECT_EQ(python_verify().code, 0);
}

TEST_F(Deferred, ALongUnsealedTailIsFoundAcrossTheReadBlocksAndCutWhole) {
  // 3000 chained unsigned entries of varied length (about 400 KB): more than the growing
  // blocks the run is searched in, with lines across their edges.
  Transcript reader(file());
  const TranscriptState st = reader.state();
  std::string prev = st.head;
  {
    std::ofstream out(file(), std::ios::app);
    for (std::uint64_t i = 0; i < 3000; ++i) {
      const Entry e = unsigned_entry(st.entries + i, prev, {{"pad", std::string(i % 97, 'p')}});
      out << to_line(e) << "\n";
      prev = e.hash;
    }
  }
  Transcript t(file());
  EXPECT_EQ(t.state().unsigned_tail, 3000u);
  EXPECT_EQ(t.sealed_entries(), st.entries);
  ASSERT_TRUE(t.latest_state());
  EXPECT_EQ(t.latest_state()->root, root('a'));
  const Entry e = t.append("ceremony.end", "test", kOther, nlohmann::json::object(), signer_);
  EXPECT_EQ(e.seq, st.entries + 1);
  const Entry cut = test::parse_line(test::split_lines(content())[st.entries]);
  EXPECT_EQ(cut.data["entries"], 3000);
  EXPECT_TRUE(verify().ok);
}

TEST_F(Deferred, UnsignedLinesThatDoNotContinueTheLogAreRefusedNotCut) {
  Transcript reader(file());
  const TranscriptState st = reader.state();
  // A gap in seq: not the tail of a batch.
  const Entry fake = unsigned_entry(st.entries + 7, st.head, nlohmann::json::object());
  std::ofstream(file(), std::ios::app) << to_line(fake) << "\n";
  const std::string before = content();
  Transcript t(file());
  try {
    t.append("ceremony.end", "test", kOther, nlohmann::json::object(), signer_);
    FAIL() << "a malformed tail was cut or covered";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find("do not continue the log"), std::string::npos) << e.what();
  }
  EXPECT_EQ(content(), before);  // nothing cut, nothing written
}

TEST_F(Deferred, LinesAppendedWhileAWriterHoldsUnsignedEntriesAreRefused) {
  Transcript t(file());
  t.append("ceremony.begin", "test", kBatch, {{"what", "serve.sign"}}, signer_);
  t.defer_signatures(true);
  t.append("user.signed", "test", kBatch, {{"n", 1}}, signer_);
  // Another writer (one that did not hold the workspace) appends meanwhile: to it the
  // unsigned entry is an unsealed tail, which it cuts; the batch's writer must notice.
  Transcript intruder(file());
  intruder.append("x.note", "test", kOther, nlohmann::json::object(), signer_);
  t.defer_signatures(false);
  try {
    t.append("ceremony.sealed", "test", kBatch, {{"entries", 1}}, signer_);
    FAIL() << "the seal was written over a changed file";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity) << e.what();
  }
  EXPECT_TRUE(verify().ok);
}

TEST_F(Deferred, OnlyASignedEntryOfTheirOwnCeremonyCoversUnsignedEntries) {
  const auto build = [&](const std::string& covering_ceremony, const std::string& covering_event) {
    std::vector<std::string> lines = test::split_lines(content());
    const Entry last = test::parse_line(lines.back());
    const Entry u = unsigned_entry(last.seq + 1, last.hash, nlohmann::json::object());
    Entry s = u;
    s.seq = u.seq + 1;
    s.ceremony = covering_ceremony;
    s.event = covering_event;
    s.data = covering_event == "transcript.key"
                 ? nlohmann::json{{"alg", kAlgorithm},
                                  {"public_key", to_base64(signer_.public_key())},
                                  {"key_id", "01"}}
                 : nlohmann::json::object();
    s.prev = u.hash;
    signer_.key().seal(s);
    lines.push_back(to_line(u));
    lines.push_back(to_line(s));
    return test::join_lines(lines);
  };
  const VerifyReport same = verify_transcript(build(kBatch, "ceremony.sealed"), VerifyOptions{});
  EXPECT_TRUE(same.ok) << same.reason;
  EXPECT_EQ(same.unsigned_entries, 1u);
  for (const auto& [ceremony, event] : {std::pair<std::string, std::string>{kOther, "ceremony.sealed"},
                                        {kBatch, "transcript.key"}}) {
    const VerifyReport r = verify_transcript(build(ceremony, event), VerifyOptions{});
    EXPECT_FALSE(r.ok) << event;
    ASSERT_TRUE(r.bad_seq);
    EXPECT_EQ(*r.bad_seq, 2u) << r.reason;  // the first entry nothing covers
    EXPECT_EQ(r.entries, 2u);
    std::ofstream(dir_.path() / "variant.jsonl") << build(ceremony, event);
    const test::RunResult py = test::run_program(
        {"/usr/bin/python3", "-B", std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
         (dir_.path() / "variant.jsonl").string()});
    EXPECT_EQ(py.code, 4) << py.out;
    EXPECT_NE(py.out.find("FAIL seq 2:"), std::string::npos) << py.out;
  }
}

}  // namespace
}  // namespace hsm::transcript
