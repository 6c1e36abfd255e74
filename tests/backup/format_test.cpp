// The backup file parser against every malformed shape it must refuse (Error(integrity)): every
// truncation and extension of a good file, wrong lengths, bad tags, bad body fields.
#include <gtest/gtest.h>

#include <functional>

#include "core/backup/format.h"
#include "core/error.h"

namespace hsm::backup {
namespace {

Contents sample() {
  Contents c;
  c.created = "2026-11-24T12:00:00Z";
  c.kcv = "a1b2c3";
  c.schema = 3;
  c.transcript_seq = 12;
  c.transcript_head = std::string(64, 'e');
  c.keys.push_back({"root", "00ff", "ec-p384", "ca", "mk-wrap", 0, "hsmctl-key-root",
                    "ecdsa-sha384", Bytes{1, 2, 3}, Bytes{4, 5}});
  c.not_backed_up = {"ed"};
  c.keystore = {{"format", "hsmctl-keystore"}, {"schema", 3}, {"tables", nlohmann::json::object()}};
  return c;
}

Bytes good() { return assemble(serialise_body(sample()), Bytes(kTagSize, 0xab)); }

Category category_of(ByteView file) {
  try {
    const Envelope e = parse_envelope(file);
    parse_body(e.body);
  } catch (const Error& e) {
    return e.category();
  }
  return Category::general;  // "accepted"
}

TEST(BackupFormat, RoundTrips) {
  const Bytes file = good();
  const Envelope e = parse_envelope(file);
  EXPECT_EQ(e.tag, Bytes(kTagSize, 0xab));
  EXPECT_EQ(e.authenticated, authenticated_part(e.body));
  const Contents c = parse_body(e.body);
  EXPECT_EQ(c.keys, sample().keys);
  EXPECT_EQ(c.kcv, "a1b2c3");
  EXPECT_EQ(c.transcript_seq, 12u);
  EXPECT_EQ(c.not_backed_up, sample().not_backed_up);
}

TEST(BackupFormat, EveryTruncationAndExtensionIsRefused) {
  const Bytes file = good();
  for (std::size_t n = 0; n < file.size(); ++n)
    EXPECT_EQ(category_of(ByteView(file).first(n)), Category::integrity) << n;
  Bytes longer = file;
  longer.push_back('\n');
  EXPECT_EQ(category_of(longer), Category::integrity);
}

TEST(BackupFormat, BadEnvelopesAreRefused) {
  const std::string body = serialise_body(sample());
  const std::string tag(64, 'a');
  for (const std::string& f : {
           "hsmctl-backup 2\n" + std::to_string(body.size()) + "\n" + body + "\nhmac-sha256 " + tag + "\n",
           "hsmctl-backup 1\n0" + std::to_string(body.size()) + "\n" + body + "\nhmac-sha256 " + tag + "\n",
           "hsmctl-backup 1\n" + std::to_string(body.size() + 1) + "\n" + body + "\nhmac-sha256 " + tag + "\n",
           "hsmctl-backup 1\n99999999999999999999\n" + body + "\nhmac-sha256 " + tag + "\n",
           "hsmctl-backup 1\n" + std::to_string(body.size()) + "\n" + body + "\nhmac-sha256 " +
               std::string(64, 'A') + "\n",
           "hsmctl-backup 1\n" + std::to_string(body.size()) + "\n" + body + "\nhmac-sha512 " + tag + "\n",
       })
    EXPECT_EQ(category_of(as_bytes(f)), Category::integrity) << f.substr(0, 40);
}

TEST(BackupFormat, BadBodiesAreRefused) {
  auto with = [](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json doc = nlohmann::json::parse(serialise_body(sample()));
    change(doc);
    return doc.dump();
  };
  for (const std::string& body : {
           std::string("not json"), std::string("[]"),
           with([](auto& d) { d["format"] = "other"; }),
           with([](auto& d) { d["version"] = 2; }),
           with([](auto& d) { d["kcv"] = "xyz"; }),
           with([](auto& d) { d["schema"] = -1; }),
           with([](auto& d) { d["transcript"]["head"] = "00"; }),
           with([](auto& d) { d["keys"] = "none"; }),
           with([](auto& d) { d["keys"][0]["wrapped_key"] = "!!"; }),
           with([](auto& d) { d["keys"][0]["key_id"] = "abc"; }),
           with([](auto& d) { d["keys"][0]["escrow"] = "none"; }),
           with([](auto& d) { d["keys"][0]["quorum"] = 99; }),
           with([](auto& d) { d["keys"][0].erase("public_key"); }),
           with([](auto& d) { d["not_backed_up"] = {1}; }),
           with([](auto& d) { d["keystore"] = 5; }),
       }) {
    try {
      parse_body(body);
      ADD_FAILURE() << "accepted: " << body.substr(0, 60);
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::integrity) << e.what();
    }
  }
}

}  // namespace
}  // namespace hsm::backup
