// The frames user provision workers send their parent: every kind round-trips, frames split
// anywhere across reads come out whole, and a frame that does not parse is refused, not read
// as a user (tests/e2e/provision_*_test.cpp run the real workers).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ceremonies/users/user_provision_wire.h"

namespace hsm::wire {
namespace {

std::vector<ProvisionRow> rows() {
  std::vector<ProvisionRow> r(3);
  r[0].name = "alice", r[0].algorithm = "p256";
  r[1].name = "bob", r[1].algorithm = "p384";
  r[2].name = "carol", r[2].algorithm = "rsa3072";
  return r;
}

SealOutcome sealed(std::size_t index, bool with_ecdh) {
  SealOutcome o;
  o.index = index;
  o.ok = true;
  o.user.public_key = Bytes(91, 0x30);
  o.user.secrets.kdf = {"", Bytes(16, 0x11), 2, 67108864};
  o.user.secrets.signing_key = {Bytes(150, 0xc3), Bytes(12, 0x0a)};  // '\n' bytes inside
  if (with_ecdh) {
    o.user.ecdh_public_key = Bytes(91, 0x04);
    o.user.secrets.ecdh_key = keystore::SealedBlob{Bytes(140, 0x00), Bytes(12, 0x09)};
  }
  return o;
}

std::vector<Frame> read_all(const std::string& stream, std::size_t piece) {
  FrameReader reader;
  std::vector<Frame> out;
  const auto rs = rows();
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    reader.append(stream.data() + at, std::min(piece, stream.size() - at));
    while (auto f = reader.next(rs, "interactive")) out.push_back(std::move(*f));
  }
  EXPECT_TRUE(reader.empty());
  return out;
}

TEST(ProvisionWire, EveryKindRoundTripsWhateverTheReadSizes) {
  SealOutcome failed;
  failed.index = 1;
  failed.category = Category::token;
  failed.error = "line 3: user 'bob': token said\tno\n";
  const std::string stream = ready_frame() + outcome_frame(sealed(0, false)) +
                             outcome_frame(failed) + outcome_frame(sealed(2, true)) +
                             fatal_frame(Category::auth, "the PIN was refused");
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, stream.size()}) {
    const auto frames = read_all(stream, piece);
    ASSERT_EQ(frames.size(), 5u) << "piece " << piece;
    EXPECT_EQ(frames[0].kind, Kind::ready);

    const SealOutcome& a = frames[1].outcome;
    EXPECT_EQ(frames[1].kind, Kind::outcome);
    EXPECT_TRUE(a.ok);
    EXPECT_EQ(a.index, 0u);
    EXPECT_EQ(a.user.name, "alice");
    EXPECT_EQ(a.user.algorithm, "p256");
    EXPECT_EQ(a.user.public_key, sealed(0, false).user.public_key);
    EXPECT_EQ(a.user.secrets.kdf.profile, "interactive");
    EXPECT_EQ(a.user.secrets.kdf.salt, Bytes(16, 0x11));
    EXPECT_EQ(a.user.secrets.kdf.opslimit, 2u);
    EXPECT_EQ(a.user.secrets.kdf.memlimit, 67108864u);
    EXPECT_EQ(a.user.secrets.signing_key, sealed(0, false).user.secrets.signing_key);
    EXPECT_FALSE(a.user.ecdh_public_key);
    EXPECT_FALSE(a.user.secrets.ecdh_key);

    const SealOutcome& b = frames[2].outcome;
    EXPECT_FALSE(b.ok);
    EXPECT_EQ(b.index, 1u);
    EXPECT_EQ(b.category, Category::token);
    EXPECT_EQ(b.error, failed.error);

    const SealOutcome& c = frames[3].outcome;
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.user.name, "carol");
    EXPECT_EQ(c.user.ecdh_public_key, sealed(2, true).user.ecdh_public_key);
    EXPECT_EQ(c.user.secrets.ecdh_key, sealed(2, true).user.secrets.ecdh_key);

    EXPECT_EQ(frames[4].kind, Kind::fatal);
    EXPECT_EQ(frames[4].outcome.category, Category::auth);
    EXPECT_EQ(frames[4].outcome.error, "the PIN was refused");
  }
}

TEST(ProvisionWire, PeekShowsAWholeFrameWithoutTakingIt) {
  FrameReader reader;
  const std::string f = fatal_frame(Category::token, "no token");
  reader.append(f.data(), f.size() - 1);
  EXPECT_FALSE(reader.peek());
  reader.append(f.data() + f.size() - 1, 1);
  EXPECT_EQ(reader.peek(), Kind::fatal);
  EXPECT_EQ(reader.peek(), Kind::fatal);
  const auto frame = reader.next(rows(), "min");
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->outcome.error, "no token");
  EXPECT_TRUE(reader.empty());
}

std::string with_length(std::string body) {
  std::string f(4, '\0');
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) f[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return f + body;
}

TEST(ProvisionWire, RefusesFramesThatDoNotParse) {
  std::string good = outcome_frame(sealed(0, false));
  std::string other_row = outcome_frame(sealed(7, false));
  std::string truncated = good.substr(4, good.size() - 10);
  std::string bad_category = fatal_frame(Category::auth, "x");
  bad_category[5] = 9;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty frame", with_length("")},
      {"unknown kind", with_length("z")},
      {"row not given", other_row},
      {"field past the end", with_length(truncated)},
      {"bytes left over", with_length(good.substr(4) + "x")},
      {"unknown category", bad_category},
      {"huge length", std::string("\xff\xff\xff\x7f", 4) + "o"},
  };
  for (const auto& [what, frame] : cases) {
    FrameReader reader;
    reader.append(frame.data(), frame.size());
    try {
      (void)reader.next(rows(), "min");
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::general) << what;
      EXPECT_NE(std::string(e.what()).find("malformed report"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace hsm::wire
