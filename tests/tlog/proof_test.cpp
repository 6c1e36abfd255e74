// The C2SP tlog-proof@v1 text form: it round-trips for every entry of trees up to 40 leaves
// with and without extra data, its inclusion proofs verify against the checkpoint's root, and
// each malformed part is refused with a message that names it.
#include "core/tlog/proof.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace hsm::tlog {
namespace {

Note checkpoint_note(const Checkpoint& c) {
  Note n;
  n.text = c.text();
  n.signatures.push_back({c.origin, 0x01020304, Bytes(64, 7)});
  return n;
}

std::string refusal(const std::string& text) {
  try {
    parse_inclusion_proof(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), Category::integrity);
    return e.what();
  }
  return "accepted";
}

TEST(TlogProof, RoundTripsAndVerifiesForEveryEntry) {
  MemoryTree tree;
  std::vector<std::string> entries;
  for (std::uint64_t n = 1; n <= 40; ++n) {
    entries.push_back("{\"seq\":" + std::to_string(n - 1) + "}");
    tree.append(leaf_hash(as_bytes(entries.back())));
    const Checkpoint c{"example.org/log", n, tree_root(tree, n)};
    for (std::uint64_t i = 0; i < n; ++i) {
      InclusionProofText p;
      if (i % 2 == 0) p.extra = Bytes(entries[i].begin(), entries[i].end());
      p.index = i;
      p.proof = inclusion_proof(tree, i, n);
      p.checkpoint = checkpoint_note(c);
      const std::string text = p.format();
      const InclusionProofText q = parse_inclusion_proof(text);
      ASSERT_EQ(q.format(), text);
      EXPECT_EQ(q.index, i);
      EXPECT_EQ(q.extra.has_value(), i % 2 == 0);
      const Checkpoint back = parse_checkpoint(q.checkpoint.text);
      EXPECT_TRUE(verify_inclusion(i, back.size, leaf_hash(as_bytes(entries[i])), q.proof,
                                   back.root));
    }
  }
}

TEST(TlogProof, FormatIsTheSpecsLayout) {
  InclusionProofText p;
  p.extra = Bytes{'h', 'i'};
  p.index = 0;
  p.checkpoint = checkpoint_note({"o", 1, Hash{}});
  const std::string want = "c2sp.org/tlog-proof@v1\nextra aGk=\nindex 0\n\no\n1\n";
  EXPECT_EQ(p.format().substr(0, want.size()), want);
}

TEST(TlogProof, RefusesEachMalformedPart) {
  InclusionProofText p;
  p.index = 3;
  p.proof = {Hash{}, Hash{}};
  p.checkpoint = checkpoint_note({"o", 5, Hash{}});
  const std::string good = p.format();
  EXPECT_EQ(refusal(good), "accepted");
  EXPECT_NE(refusal("c2sp.org/tlog-proof@v2\n" + good.substr(23)).find("first line"),
            std::string::npos);
  std::string s = good;
  s.replace(s.find("index 3"), 7, "index 03");
  EXPECT_NE(refusal(s).find("leading zeros"), std::string::npos);
  s = good;
  s.replace(s.find("index 3"), 7, "extra !!\nindex 3");
  EXPECT_NE(refusal(s).find("extra line"), std::string::npos);
  s = good;
  s.replace(s.find("AAAA"), 4, "AA=A");
  EXPECT_NE(refusal(s).find("proof line 1"), std::string::npos);
  s = good;
  s.erase(s.find("index 3"), 8);
  EXPECT_NE(refusal(s).find("index"), std::string::npos);
  EXPECT_NE(refusal(good.substr(0, good.find("\n\n"))).find("empty line"), std::string::npos);
  EXPECT_NE(refusal(good.substr(0, good.size() - 10)), "accepted");  // a cut signature line
}

}  // namespace
}  // namespace hsm::tlog
