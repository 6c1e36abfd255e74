// The appender's first catch-up reads a transcript from its end: the state it finds (next seq,
// head, current key) must equal the one a reader of every line would find, whatever the line
// sizes, however far back the last key entry is, across the blocks it reads in, and with key
// event names inside data; and a torn or empty last line is refused.
#include "core/transcript/appender.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/transcript/canonical_json.h"
#include "support/hsm_fixture.h"

namespace hsm::transcript {
namespace {

class FixedSigner : public Signer {
 public:
  explicit FixedSigner(std::uint8_t id) : key_(91, id) {}
  Bytes sign(ByteView) override { return Bytes(64, 1); }
  const Bytes& public_key() const override { return key_; }

 private:
  Bytes key_;
};

class TranscriptTail : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_.path() / "transcript.jsonl"; }

  // Lines written by hand: the appender checks order, not hashes or signatures (that is
  // 'transcript verify'), so each line's length can be chosen exactly.
  Entry line(std::uint64_t seq, const std::string& event, nlohmann::json data) {
    Entry e;
    e.seq = seq;
    e.time = "2026-11-25T10:00:00Z";
    e.ceremony = "00000000-0000-4000-8000-000000000000";
    e.event = event;
    e.actor = "test";
    e.data = std::move(data);
    e.prev = head_;
    e.hash = body_hash(e);
    e.sig = "AQ==";
    head_ = e.hash;
    return e;
  }
  void write(const Entry& e) {
    std::ofstream(file(), std::ios::app) << to_line(e) << "\n";
    ++written_;
  }
  nlohmann::json key_data(const FixedSigner& k) {
    return {{"public_key", to_base64(k.public_key())}, {"key_id", "ab"}};
  }
  std::uintmax_t size() const { return std::filesystem::file_size(file()); }

  hsm::test::TempDir dir_;
  std::string head_ = kZeroHash;
  std::uint64_t written_ = 0;
  FixedSigner k1_{1}, k2_{2};
};

TEST_F(TranscriptTail, StateFromTheEndEqualsTheChainAndAppendsContinueIt) {
  write(line(0, "transcript.open", key_data(k1_)));
  for (int i = 1; i < 40; ++i) write(line(written_, "x", {{"pad", std::string(9000, 'a')}}));
  write(line(written_, "transcript.key", key_data(k2_)));
  // Lines larger than one read block (64 KiB) after the key entry.
  for (int i = 0; i < 3; ++i) write(line(written_, "x", {{"pad", std::string(150000, 'b')}}));

  Transcript t(file());
  const TranscriptState st = t.state();
  EXPECT_EQ(st.entries, written_);
  EXPECT_EQ(st.head, head_);
  EXPECT_EQ(st.current_key, k2_.public_key());

  FixedSigner stale{1};
  EXPECT_THROW(t.append("y", "test", "c", nlohmann::json::object(), stale), Error);
  const Entry e = t.append("y", "test", "c", nlohmann::json::object(), k2_);
  EXPECT_EQ(e.seq, written_);
  EXPECT_EQ(e.prev, head_);
  // Another object sees the appended line as the new end.
  const TranscriptState again = Transcript(file()).state();
  EXPECT_EQ(again.entries, written_ + 1);
  EXPECT_EQ(again.head, e.hash);
}

TEST_F(TranscriptTail, KeyEventNamesInsideDataAreNotKeyEntries) {
  write(line(0, "transcript.open", key_data(k1_)));
  // After the open: an entry whose data holds a member "event":"transcript.key" with a key.
  nlohmann::json decoy = key_data(k2_);
  decoy["event"] = "transcript.key";
  write(line(written_, "x", {{"nested", decoy}}));
  write(line(written_, "x", {{"event", "transcript.open"}, {"public_key", "AAAA"}}));
  EXPECT_EQ(Transcript(file()).state().current_key, k1_.public_key());
}

TEST_F(TranscriptTail, TheOpenEntryIsFoundFarBackAndAcrossTheSearchBlocks) {
  // Put the open entry's event member across the boundary of the backward search's blocks
  // (1 MiB from the end): pad the last line so the boundary falls inside the needle.
  write(line(0, "transcript.open", key_data(k1_)));
  const std::string first = [&] {
    std::ifstream in(file());
    std::string l;
    std::getline(in, l);
    return l;
  }();
  const std::uint64_t needle_at = first.find("\"event\":\"transcript.open\"");
  ASSERT_NE(needle_at, std::string::npos);
  for (int i = 0; i < 15; ++i) write(line(written_, "x", {{"pad", std::string(60000, 'c')}}));
  const std::uint64_t block = 16 * 64 * 1024;
  const std::uint64_t target = needle_at + 5 + block;  // the file size wanted
  // One more line of exactly the right length: measure its length without padding.
  Entry probe = line(written_, "x", {{"pad", ""}});
  head_ = probe.prev;
  const std::uint64_t bare = to_line(probe).size() + 1;
  ASSERT_GT(target, size() + bare);
  write(line(written_, "x", {{"pad", std::string(target - size() - bare, 'd')}}));
  ASSERT_EQ(size(), target);
  const TranscriptState st = Transcript(file()).state();
  EXPECT_EQ(st.current_key, k1_.public_key());
  EXPECT_EQ(st.entries, written_);
}

TEST_F(TranscriptTail, TornEmptyAndKeylessFilesAreRefused) {
  write(line(0, "transcript.open", key_data(k1_)));
  write(line(written_, "x", nlohmann::json::object()));
  {
    std::ofstream(file(), std::ios::app) << "\n";
    try {
      Transcript(file()).state();
      ADD_FAILURE() << "an empty last line was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::integrity);
      EXPECT_NE(std::string(e.what()).find("empty line"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove(file());
  write(line(0, "x", nlohmann::json::object()));
  std::ofstream(file(), std::ios::app) << "{\"seq\":1";
  try {
    Transcript(file()).state();
    ADD_FAILURE() << "a torn line was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("torn line"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file());
  head_ = kZeroHash;
  written_ = 0;
  write(line(0, "x", nlohmann::json::object()));
  try {
    Transcript(file()).state();
    ADD_FAILURE() << "a transcript without an open entry was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no transcript.open entry"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hsm::transcript
