// The signed transcript end to end: written by real ceremonies on SoftHSM, verified offline,
// and every tamper class caught with exit 4 naming the right seq.
#include <algorithm>
#include <fstream>
#include <functional>
#include <thread>

#include "core/crypto/public_key.h"
#include "support/forge.h"
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Transcript : public HsmTest {
 protected:
  void SetUp() override {
    // A workspace with an empty keystore (notes alone do not start one; see hsmctl(1) --dir)
    // and a transcript opened by a provisional key on "test":
    // seq 0 transcript.open; then three ceremonies of begin, witness.note, end: 10 entries.
    write_file("ws/keystore.sqlite", "", 0600);
    for (int i = 1; i <= 3; ++i)
      ASSERT_EQ(note("note-" + std::to_string(i)).code, 0);
    original_ = read_file(file());
    lines_ = split_lines(original_);
    ASSERT_EQ(lines_.size(), 10u);
  }
  RunResult note(const std::string& text, const std::map<std::string, std::string>& env = {}) {
    return hsmctl({"transcript", "note", "--witness", "carol", text}, env);
  }
  std::filesystem::path file() const { return ws_ / "transcript.jsonl"; }
  RunResult verify_content(const std::string& content, std::vector<std::string> extra = {}) {
    const auto p = write_file("tampered.jsonl", content);
    std::vector<std::string> args{"transcript", "verify", p.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  std::string head() const { return parse_line(lines_.back()).hash; }

 public:  // the tamper table's lambdas read these
  std::string original_;
  std::vector<std::string> lines_;
};

TEST_F(Transcript, VerifiesWhatTheTokenSigned) {
  const RunResult r = hsmctl({"transcript", "verify", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["entries"], 10);
  EXPECT_EQ(j["ceremonies"], 3);
  EXPECT_EQ(j["head"], head());
  EXPECT_TRUE(j["first_key_trusted"].get<bool>());
}

TEST_F(Transcript, StockOpensslVerifiesAnEntrySignature) {
  const auto key = write_file("key.pem", hsmctl({"transcript", "export-key"}).out);
  const transcript::Entry e = parse_line(lines_[5]);
  const auto msg = write_file("msg.bin", std::string(reinterpret_cast<const char*>(from_hex(e.hash).data()), 32));
  const Bytes der = crypto::ecdsa_raw_to_der(from_base64(e.sig));
  const auto sig = write_file("sig.der", std::string(der.begin(), der.end()));
  const RunResult r = openssl({"dgst", "-sha256", "-verify", key.string(), "-signature",
                               sig.string(), msg.string()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Verified OK"), std::string::npos);
}

TEST_F(Transcript, PubkeyAndHeadPinTheTranscript) {
  const auto key = write_file("key.pem", hsmctl({"transcript", "export-key"}).out);
  const RunResult r = hsmctl({"transcript", "verify", "--pubkey", key.string(), "--head", head(),
                              "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.json()["first_key_trusted"].get<bool>());
}

TEST_F(Transcript, HeadIsReadOutInPgpWords) {
  const RunResult r = hsmctl({"transcript", "head", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["head"], head());
  const std::string words = r.json()["pgp_words"];
  EXPECT_EQ(std::count(words.begin(), words.end(), ' '), 31) << words;
}

struct Tamper {
  std::string name;
  std::function<std::string(Transcript&)> make;
  std::vector<std::string> extra;
  std::string needle;
};

TEST_F(Transcript, EveryTamperClassIsCaughtAtTheRightSeq) {
  ForgedKey evil;
  const auto real_key = write_file("real.pem", hsmctl({"transcript", "export-key"}).out);
  auto forged_after = [&](const std::vector<std::string>& base, transcript::Entry e) {
    const transcript::Entry last = parse_line(base.back());
    e.seq = last.seq + 1;
    e.prev = last.hash;
    e.time = last.time;
    e.ceremony = last.ceremony;
    e.actor = "mallory";
    evil.seal(e);
    auto out = base;
    out.push_back(transcript::to_line(e));
    return out;
  };
  auto key_change = [&](bool endorsed) {
    transcript::Entry e;
    e.event = "transcript.key";
    e.data = {{"alg", "ecdsa-p256-sha256"}, {"public_key", to_base64(evil.spki())},
              {"endorsed", endorsed}};
    return e;
  };
  const std::vector<Tamper> table = {
      {"flipped byte in data",
       [](Transcript& t) {
         auto l = t.lines_;
         l[5].replace(l[5].find("note-2"), 6, "note-X");
         return join_lines(l);
       },
       {}, "seq 5: hash does not match"},
      {"deleted entry",
       [](Transcript& t) {
         auto l = t.lines_;
         l.erase(l.begin() + 4);
         return join_lines(l);
       },
       {}, "seq 4: found seq 5"},
      {"swapped entries",
       [](Transcript& t) {
         auto l = t.lines_;
         std::swap(l[4], l[5]);
         return join_lines(l);
       },
       {}, "seq 4: found seq 5"},
      {"inserted entry with a correct hash, signed by another key",
       [&](Transcript& t) {
         std::vector<std::string> head(t.lines_.begin(), t.lines_.begin() + 4);
         transcript::Entry e;
         e.event = "witness.note";
         e.data = {{"text", "inserted"}, {"witness", "mallory"}};
         auto l = forged_after(head, e);
         l.insert(l.end(), t.lines_.begin() + 4, t.lines_.end());
         return join_lines(l);
       },
       {}, "seq 4: signature does not verify"},
      {"truncated, checked against --head",
       [](Transcript& t) { return join_lines({t.lines_.begin(), t.lines_.end() - 2}); },
       {"--head", head()}, "never reaches the expected head"},
      {"extended past --head",
       [](Transcript& t) { return t.original_; },
       {"--head", parse_line(lines_[8]).hash}, "goes on after the expected head"},
      {"whole chain re-signed under another key, --pubkey given",
       [&](Transcript& t) {
         std::vector<std::string> out;
         std::string prev = transcript::kZeroHash;
         for (const auto& line : t.lines_) {
           transcript::Entry e = parse_line(line);
           if (e.seq == 0) e.data["public_key"] = to_base64(evil.spki());
           e.prev = prev;
           evil.seal(e);
           prev = e.hash;
           out.push_back(transcript::to_line(e));
         }
         return join_lines(out);
       },
       {"--pubkey", real_key.string()}, "seq 0: the transcript was opened with a different key"},
      {"key change endorsed by the wrong key",
       [&](Transcript& t) { return join_lines(forged_after(t.lines_, key_change(true))); },
       {}, "seq 10: key change is not signed by the key before it"},
      {"unendorsed key change under --strict",
       [&](Transcript& t) { return join_lines(forged_after(t.lines_, key_change(false))); },
       {"--strict"}, "seq 10: unendorsed key change"},
      {"torn last line",
       [](Transcript& t) { return t.original_.substr(0, t.original_.size() - 40); },
       {}, "seq 9: torn last line"},
      {"not canonical JSON",
       [](Transcript& t) {
         auto l = t.lines_;
         l[3].insert(1, " ");
         return join_lines(l);
       },
       {}, "seq 3: "},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.name);
    expect_failure(verify_content(row.make(*this), row.extra), 4, row.needle);
  }
}

TEST_F(Transcript, UnendorsedKeyChangeIsListedAndOnlyStrictFails) {
  ForgedKey evil;
  transcript::Entry last = parse_line(lines_.back());
  transcript::Entry e;
  e.seq = 10;
  e.prev = last.hash;
  e.event = "transcript.key";
  e.data = {{"alg", "ecdsa-p256-sha256"}, {"public_key", to_base64(evil.spki())},
            {"endorsed", false}};
  evil.seal(e);
  auto l = lines_;
  l.push_back(transcript::to_line(e));
  const RunResult r = verify_content(join_lines(l), {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.json()["key_changes"].size(), 1u);
  EXPECT_FALSE(r.json()["key_changes"][0]["endorsed"].get<bool>());
  EXPECT_EQ(verify_content(join_lines(l), {"--strict"}).code, 4);
}

TEST_F(Transcript, RepairCutsATornLineAndRecordsIt) {
  std::ofstream(file(), std::ios::app) << "{\"actor\":\"carol\",\"cer";
  expect_failure(hsmctl({"transcript", "verify"}), 4, "torn last line");
  expect_failure(note("blocked"), 4, "torn line");
  const RunResult r = hsmctl({"transcript", "verify", "--repair", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(read_file(file()).find("transcript.repaired"), std::string::npos);
  EXPECT_EQ(note("after repair").code, 0);
}

// An insider who can write the file but not sign appends a well-chained entry with an empty
// sig (as a service batch writes them before its seal): an unsealed tail. verify exits 4 at it;
// --repair cuts it, keeps it beside the transcript and records the cut, never covering it.
TEST_F(Transcript, RepairCutsAnUnsealedTailKeepsItAndRecordsIt) {
  transcript::Entry e = parse_line(lines_.back());
  e.seq += 1;
  e.prev = e.hash;
  e.ceremony = "00000000-0000-4000-8000-0000000000ee";
  e.event = "witness.note";
  e.data = {{"witness", "mallory"}, {"text", "never happened"}};
  e.hash = transcript::body_hash(e);
  e.sig = "";
  std::ofstream(file(), std::ios::app) << transcript::to_line(e) << "\n";
  const RunResult v = hsmctl({"--json", "transcript", "verify"});
  EXPECT_EQ(v.code, 4) << v.out;
  EXPECT_EQ(v.json()["bad_seq"], 10) << v.out;
  EXPECT_NE(v.json()["reason"].get<std::string>().find("unsealed tail"), std::string::npos);
  const RunResult r = hsmctl({"transcript", "verify", "--repair"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("cut an unsealed tail of 1 unsigned entries"), std::string::npos) << r.err;
  const std::string after = read_file(file());
  EXPECT_EQ(after.find("never happened"), std::string::npos);
  const std::vector<std::string> lines = split_lines(after);
  ASSERT_GT(lines.size(), 10u);
  const transcript::Entry cut = parse_line(lines[10]);
  EXPECT_EQ(cut.event, "transcript.unsealed-cut");
  EXPECT_EQ(cut.data["entries"], 1);
  EXPECT_NE(read_file(ws_ / cut.data["copy"].get<std::string>()).find("never happened"),
            std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
  const RunResult doctor = hsmctl({"doctor"});
  EXPECT_NE(doctor.out.find("unsealed tail(s) were cut"), std::string::npos) << doctor.out;
  EXPECT_EQ(doctor.out.find("no transcript.unsealed-cut entry records"), std::string::npos)
      << doctor.out;
  // A copy that no entry names: a process died between the cut and its record.
  write_file("ws/transcript.unsealed-11-00000000000000aa.jsonl", "{}\n", 0600);
  const RunResult unrecorded = hsmctl({"doctor"});
  EXPECT_NE(unrecorded.code, 0);
  EXPECT_NE(unrecorded.out.find("transcript.unsealed-11-00000000000000aa.jsonl holds an unsealed "
                                "tail that was cut, but no transcript.unsealed-cut entry records"),
            std::string::npos) << unrecorded.out;
}

TEST_F(Transcript, WrongPinIsRecordedLateByTheNextCeremony) {
  expect_failure(note("x", {{"HSMCTL_TEST_PIN", "wrong-pin-0"}}), 3, "wrong PIN");
  ASSERT_EQ(note("next").code, 0);
  const std::string content = read_file(file());
  const auto pos = content.find("ceremony.unsigned-failure");
  ASSERT_NE(pos, std::string::npos);
  const auto line_start = content.rfind('\n', pos) + 1;
  const std::string line = content.substr(line_start, content.find('\n', pos) - line_start);
  EXPECT_NE(line.find("\"category\":\"auth\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"recorded_late\":true"), std::string::npos) << line;
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(ws_ / "transcript.pending.jsonl"));
}

TEST_F(Transcript, NeverHoldsThePinOrSoPin) {
  ASSERT_EQ(hsmctl({"token", "init", "--label", "second", "--so-pin-source", "env:SO"},
                   {{"SO", "so-pin-never-logged"}})
                .code,
            0);
  const std::string content = read_file(file());
  EXPECT_EQ(content.find(kPin), std::string::npos);
  EXPECT_EQ(content.find("so-pin-never-logged"), std::string::npos);
  EXPECT_NE(content.find("token.init"), std::string::npos);
}

TEST_F(Transcript, ConcurrentAppendsFromTwoProcessesKeepTheChain) {
  auto writer = [this](int who) {
    for (int i = 0; i < 4; ++i)
      { const RunResult r = note("w" + std::to_string(who) + "-" + std::to_string(i)); EXPECT_EQ(r.code, 0) << r.err; }
  };
  std::thread a(writer, 1), b(writer, 2);
  a.join();
  b.join();
  const RunResult r = hsmctl({"transcript", "verify", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["entries"], 10 + 8 * 3);
}

TEST_F(Transcript, KeyOnTokenIsSensitiveNotExtractableNotModifiable) {
  const RunResult r = hsmctl({"token", "objects", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  int keys = 0;
  const auto doc = r.json();
  for (const auto& o : doc["objects"]) {
    if (o["label"] != "hsmctl-transcript" || o["class"] != "private-key") continue;
    ++keys;
    EXPECT_TRUE(o["sensitive"].get<bool>());
    EXPECT_FALSE(o["extractable"].get<bool>());
    EXPECT_FALSE(o["modifiable"].get<bool>());
    EXPECT_TRUE(o["never_extractable"].get<bool>());
  }
  EXPECT_EQ(keys, 1);
}

TEST_F(Transcript, AKeyNotOnThisTokenSignsOnUnendorsed) {
  hsm_.init_token("other");
  ASSERT_EQ(hsmctl({"--token", "other", "transcript", "note", "--witness", "w", "moved"}).code, 0);
  const RunResult r = hsmctl({"transcript", "verify", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.json()["key_changes"].size(), 1u);
  EXPECT_FALSE(r.json()["key_changes"][0]["endorsed"].get<bool>());
  expect_failure(hsmctl({"transcript", "verify", "--strict"}), 4, "unendorsed");
}

}  // namespace
}  // namespace hsm::test
