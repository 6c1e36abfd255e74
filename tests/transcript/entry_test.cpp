// Entry serialization: the member-by-member writer of entry.cpp against canonical_json of the
// same object built as JSON, for entries whose strings need escaping, hold non-ASCII text and
// nest data; and the hash over the body without hash and sig.
#include "core/transcript/entry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/canonical_json.h"

namespace hsm::transcript {
namespace {

using nlohmann::json;

json as_object(const Entry& e, bool sealed) {
  json j = {{"seq", e.seq},     {"time", e.time}, {"ceremony", e.ceremony}, {"event", e.event},
            {"actor", e.actor}, {"data", e.data}, {"prev", e.prev}};
  if (sealed) {
    j["hash"] = e.hash;
    j["sig"] = e.sig;
  }
  return j;
}

std::vector<Entry> samples() {
  Entry plain;
  plain.seq = 0;
  plain.time = "2026-11-25T09:00:00Z";
  plain.ceremony = "5f0c6f1e-9d1b-4c11-8a55-0d6c3b1f7a10";
  plain.event = "transcript.open";
  plain.actor = "alice";
  plain.prev = std::string(64, '0');
  plain.hash = std::string(64, 'a');
  plain.sig = "c2lnbmF0dXJl";

  Entry odd = plain;
  odd.seq = 18446744073709551615ull;
  odd.actor = "Zoë \"the\" custodian\\\t\x01 \u20ac\U0001F600";
  odd.event = "user.provisioned";
  odd.data = {{"users", json::array({{{"name", "b\u00f6b"}, {"line", 2}},
                                     {{"name", "\U0001F600"}, {"line", 3}}})},
              {"\U0001F600", "emoji name"},
              {"\uFB33", "after the emoji in UTF-16"},
              {"escrow", "mk-wrap"},
              {"empty", json::object()},
              {"flag", false},
              {"none", nullptr},
              {"n", -42}};
  return {plain, odd};
}

TEST(TranscriptEntry, LineIsCanonicalJsonOfTheWholeEntry) {
  for (const Entry& e : samples()) {
    EXPECT_EQ(to_line(e), canonical_json(as_object(e, true)));
    EXPECT_EQ(canonical_body(e), canonical_json(as_object(e, false)));
    EXPECT_EQ(to_line(e, canonical_json(e.data)), to_line(e));
    EXPECT_EQ(parse_canonical_line(to_line(e)), as_object(e, true));
  }
}

TEST(TranscriptEntry, HashIsSha256OfTheBodyWithoutHashAndSig) {
  for (const Entry& e : samples()) {
    const std::string body = canonical_json(as_object(e, false));
    EXPECT_EQ(body_hash(e), to_hex(crypto::sha256(as_bytes(body))));
    EXPECT_EQ(body_hash(e, canonical_json(e.data)), body_hash(e));
  }
}

TEST(TranscriptEntry, RoundTripsThroughTheLineReader) {
  for (const Entry& e : samples()) {
    const Entry back = entry_from_json(parse_canonical_line(to_line(e)));
    EXPECT_EQ(to_line(back), to_line(e));
  }
}

TEST(TranscriptEntry, RefusesInvalidUtf8InAnyField) {
  Entry e = samples().front();
  e.actor = "al\xffice";
  EXPECT_THROW(to_line(e), Error);
  e = samples().front();
  e.data = {{"name", "b\xc3"}};
  EXPECT_THROW(body_hash(e), Error);
}

}  // namespace
}  // namespace hsm::transcript
