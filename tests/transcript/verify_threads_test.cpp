// verify_transcript gives the same report, to the byte, on one thread and on several with
// chunks of one line or many: the lowest bad seq and its reason even when a later chunk fails
// first, key changes followed across chunks, and every tamper class of the e2e tests.
#include <gtest/gtest.h>

#include <functional>

#include "core/crypto/public_key.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/entry.h"
#include "core/transcript/line_check.h"
#include "core/transcript/verify.h"
#include "support/forge.h"

namespace hsm::transcript {
namespace {

using test::ForgedKey;

// A transcript of `n` entries in ceremonies of five, with an endorsed key change at seq 100
// and an unendorsed one at seq 200 (when n reaches them), and the keys to change it with.
// `deferred`: the third and fourth entry of each ceremony are unsigned, covered by the fifth.
class SignedLog {
 public:
  explicit SignedLog(std::uint64_t n, bool deferred = false) {
    std::string prev = kZeroHash;
    for (std::uint64_t seq = 0; seq < n; ++seq) {
      Entry e;
      e.seq = seq;
      e.time = "2026-12-06T04:00:00Z";
      const std::string c = std::to_string(seq / 5);
      e.ceremony = "00000000-0000-4000-8000-" + std::string(12 - c.size(), '0') + c;
      e.actor = seq % 2 ? "alice" : "bob";
      if (seq == 0) {
        e.event = "transcript.open";
        e.data = key_data(k1_);
      } else if (seq == 100 || seq == 200) {
        e.event = "transcript.key";
        e.data = key_data(seq == 100 ? k2_ : k3_);
        e.data["endorsed"] = seq == 100;
      } else {
        e.event = "witness.note";
        // Key event names inside data make no key entry.
        e.data = {{"note", "seal " + std::to_string(seq) + " intact"},
                  {"inner", {{"event", "transcript.key"}, {"public_key", to_base64(k3_.spki())}}}};
      }
      e.prev = prev;
      signer_of(seq).seal(e);
      if (deferred && (seq % 5 == 2 || seq % 5 == 3)) e.sig = "";
      prev = e.hash;
      lines.push_back(to_line(e));
    }
  }

  // The key that signs entry `seq`: the opening key, then (from the endorsed change at 100,
  // which the opening key signs) the second, then (from the unendorsed change at 200, which
  // signs itself) the third.
  const ForgedKey& signer_of(std::uint64_t seq) const {
    return seq <= 100 ? k1_ : seq < 200 ? k2_ : k3_;
  }

  // `lines` with entry `seq` changed by `change`, re-hashed and re-signed by the right key.
  std::vector<std::string> changed(std::uint64_t seq,
                                   const std::function<void(Entry&)>& change) const {
    std::vector<std::string> out = lines;
    Entry e = test::parse_line(out[seq]);
    change(e);
    signer_of(seq).seal(e);
    out[seq] = to_line(e);
    return out;
  }

  std::vector<std::string> lines;

 private:
  static nlohmann::json key_data(const ForgedKey& k) {
    return {{"alg", "ecdsa-p256-sha256"}, {"public_key", to_base64(k.spki())}, {"key_id", "01"},
            {"kind", "provisional"}, {"token", "t"}};
  }
  ForgedKey k1_, k2_, k3_;
};

struct Run {
  unsigned threads;
  std::size_t chunk_bytes;
};
const Run kRuns[] = {{1, 1 << 20}, {2, 1}, {2, 3000}, {4, 700}, {8, 1}};

VerifyReport verify_with(const std::string& content, Run run, bool strict = false) {
  VerifyOptions o;
  o.threads = run.threads;
  o.chunk_bytes = run.chunk_bytes;
  o.strict = strict;
  return verify_transcript(content, o);
}

// Everything a report says, for one comparison.
std::string describe(const VerifyReport& r) {
  std::string out = (r.ok ? "ok" : "bad") + std::string(" entries=") + std::to_string(r.entries) +
                    " ceremonies=" + std::to_string(r.ceremonies) + " head=" + r.head +
                    " first_key=" + r.first_key_fingerprint +
                    " torn=" + std::to_string(r.torn_last_line) +
                    " unsigned=" + std::to_string(r.unsigned_entries) +
                    " bad_seq=" + (r.bad_seq ? std::to_string(*r.bad_seq) : "-") + " reason=" + r.reason;
  for (const KeyChange& k : r.key_changes)
    out += " change@" + std::to_string(k.seq) + ":" + k.new_fingerprint + (k.endorsed ? "+" : "-");
  out += " keys=" + std::to_string(r.keys.size());
  return out;
}

// The report of one thread with the whole file as one chunk, which must also be every other
// run's report; returned for the caller's own checks.
VerifyReport same_on_every_run(const std::string& content, bool strict = false) {
  const VerifyReport one = verify_with(content, kRuns[0], strict);
  for (const Run& run : kRuns) {
    SCOPED_TRACE(testing::Message() << run.threads << " threads, chunks of " << run.chunk_bytes);
    EXPECT_EQ(describe(verify_with(content, run, strict)), describe(one));
  }
  return one;
}

std::string joined(const std::vector<std::string>& lines) { return test::join_lines(lines); }

TEST(VerifyThreads, AGoodLogWithKeyChangesVerifiesAlikeOnEveryRun) {
  const SignedLog log(300);
  const VerifyReport r = same_on_every_run(joined(log.lines));
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.entries, 300u);
  EXPECT_EQ(r.ceremonies, 60u);
  ASSERT_EQ(r.key_changes.size(), 2u);
  EXPECT_TRUE(r.key_changes[0].endorsed);
  EXPECT_FALSE(r.key_changes[1].endorsed);
  const VerifyReport strict = same_on_every_run(joined(log.lines), true);
  EXPECT_EQ(strict.bad_seq, 200u);
  EXPECT_EQ(strict.reason, "unendorsed key change (--strict)");
}

TEST(VerifyThreads, UnsignedEntriesAndAnUnsealedTailGiveTheSameReportOnEveryRun) {
  const SignedLog log(300, true);
  const VerifyReport good = same_on_every_run(joined(log.lines));
  ASSERT_TRUE(good.ok) << good.reason;
  EXPECT_EQ(good.entries, 300u);
  EXPECT_EQ(good.unsigned_entries, 120u);
  // The log cut after an unsigned entry: an unsealed tail, reported at its first entry.
  const std::vector<std::string> cut(log.lines.begin(), log.lines.begin() + 299);
  const VerifyReport tail = same_on_every_run(joined(cut));
  EXPECT_FALSE(tail.ok);
  EXPECT_EQ(tail.bad_seq, 297u);
  EXPECT_EQ(tail.entries, 297u);
  EXPECT_NE(tail.reason.find("unsealed tail"), std::string::npos) << tail.reason;
  // A covering entry's signature taken off: the run goes on into the next ceremony.
  std::vector<std::string> lines = log.lines;
  lines[154].replace(lines[154].find("\"sig\":\"") + 7, 88, "");
  const VerifyReport uncovered = same_on_every_run(joined(lines));
  EXPECT_EQ(uncovered.bad_seq, 152u);
  EXPECT_NE(uncovered.reason.find("another ceremony"), std::string::npos) << uncovered.reason;
}

TEST(VerifyThreads, TheLowestBadSeqIsReportedWhenLaterChunksFailFirst) {
  const SignedLog log(300);
  auto lines = log.lines;
  lines[290].replace(lines[290].find("intact"), 6, "broken");  // hash mismatch
  lines[250].insert(1, " ");                                     // not canonical
  lines[37].replace(lines[37].find("intact"), 6, "BROKEN");     // the first one
  const VerifyReport r = same_on_every_run(joined(lines));
  EXPECT_EQ(r.bad_seq, 37u);
  EXPECT_EQ(r.reason, "hash does not match the entry's content");
  EXPECT_EQ(r.entries, 37u);
}

TEST(VerifyThreads, EveryTamperClassGivesTheSameReportOnEveryRun) {
  const SignedLog log(300);
  const ForgedKey evil;
  using Lines = std::vector<std::string>;
  const auto sealed_by = [](const ForgedKey& k, Entry e) {
    k.seal(e);
    return to_line(e);
  };
  struct Tamper {
    const char* name;
    std::function<Lines()> make;
    std::uint64_t bad_seq;
    std::string reason_starts;
  };
  const std::vector<Tamper> table = {
      {"flipped byte",
       [&] { Lines l = log.lines; l[150][l[150].find("seal") + 1] = 'E'; return l; },
       150, "hash does not match the entry's content"},
      {"deleted entry",
       [&] { Lines l = log.lines; l.erase(l.begin() + 120); return l; },
       120, "found seq 121 where 120 was expected"},
      {"swapped entries",
       [&] { Lines l = log.lines; std::swap(l[60], l[61]); return l; },
       60, "found seq 61 where 60 was expected"},
      {"the signature of another entry",
       [&] {
         Lines l = log.lines;
         Entry e = test::parse_line(l[180]);
         e.sig = test::parse_line(l[181]).sig;
         l[180] = to_line(e);
         return l;
       },
       180, "signature does not verify under the current transcript key"},
      {"rewritten and signed by another key",
       [&] {
         Lines l = log.lines;
         Entry e = test::parse_line(l[250]);
         e.data["note"] = "rewritten";
         l[250] = sealed_by(evil, e);
         return l;
       },
       250, "signature does not verify under the current transcript key"},
      {"sig that is not base64",
       [&] {
         Lines l = log.lines;
         Entry e = test::parse_line(l[90]);
         e.sig = "!!";
         l[90] = to_line(e);
         return l;
       },
       90, "signature does not verify under the current transcript key"},
      {"repeated member name",
       [&] { Lines l = log.lines; l[70].insert(1, "\"actor\":\"x\","); return l; },
       70, "transcript line repeats a member name within one object"},
      {"nested too deep",
       [&] { Lines l = log.lines; l[71] = std::string(40, '[') + std::string(40, ']'); return l; },
       71, "transcript line nests deeper than 32 levels"},
      {"not JSON",
       [&] { Lines l = log.lines; l[72] = "{\"seq\":"; return l; },
       72, "transcript line is not valid JSON"},
      {"a second transcript.open",
       [&] { return log.changed(30, [](Entry& e) { e.event = "transcript.open"; }); },
       30, "transcript.open after the first entry"},
      {"key change endorsed by the wrong key",
       [&] { Lines l = log.lines; l[100] = sealed_by(evil, test::parse_line(l[100])); return l; },
       100, "key change is not signed by the key before it (bad endorsement)"},
      {"entry after a key change signed by the old key",
       [&] {
         Lines l = log.lines;
         l[101] = sealed_by(log.signer_of(99), test::parse_line(l[101]));
         return l;
       },
       101, "signature does not verify under the current transcript key"},
      {"torn last line",
       [&] { Lines l = log.lines; l.back().resize(40); return l; },
       299, "torn last line"},
  };
  for (const Tamper& t : table) {
    SCOPED_TRACE(t.name);
    std::string content = joined(t.make());
    if (t.reason_starts == "torn last line") content.pop_back();
    const VerifyReport r = same_on_every_run(content);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_seq, t.bad_seq) << r.reason;
    EXPECT_EQ(r.reason.rfind(t.reason_starts, 0), 0u) << r.reason;
  }
}

TEST(VerifyThreads, DerSignaturesAreTheOnesOpenSslEncodes) {
  for (const int lead : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
    for (const int zeros : {0, 1, 2, 31, 32}) {
      Bytes raw(64);
      for (std::size_t i = 0; i < 64; ++i) raw[i] = static_cast<std::uint8_t>(i * 37 + 11);
      for (std::size_t half : {0u, 32u}) {
        for (int z = 0; z < zeros; ++z) raw[half + static_cast<std::size_t>(z)] = 0;
        if (zeros < 32) raw[half + static_cast<std::size_t>(zeros)] = static_cast<std::uint8_t>(lead);
      }
      EXPECT_EQ(p256_der_signature(raw), crypto::ecdsa_raw_to_der(raw)) << lead << " " << zeros;
    }
  }
}

}  // namespace
}  // namespace hsm::transcript
