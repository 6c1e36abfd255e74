// key generate + sign file for every algorithm, each signature checked by stock openssl;
// quorum keys need the shares at every use; the failure contract in one table.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class KeySign : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares_).code, 0);
    input_ = write_file("release.tar", "the release bytes\n");
  }
  std::string two_shares() {
    return write_file("two", read_file(shares_ / "a.share") + read_file(shares_ / "c.share")).string();
  }
  std::string pub(const std::string& label) {
    return write_file(label + ".pem", hsmctl({"key", "export-public", label}).out).string();
  }
  RunResult sign(const std::string& key, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"sign", "file", "--key", key, "--in", input_.string(), "--out",
                                  (tmp_.path() / out).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  RunResult openssl_verify(const std::string& algo, const std::string& pem, const std::string& sig) {
    const std::string s = (tmp_.path() / sig).string();
    if (algo == "ed25519")
      return openssl({"pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in",
                      input_.string(), "-sigfile", s});
    if (algo.rfind("rsa", 0) == 0)
      return openssl({"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                      "rsa_pss_saltlen:32", "-verify", pem, "-signature", s, input_.string()});
    return openssl({"dgst", algo == "ec-p384" ? "-sha384" : "-sha256", "-verify", pem,
                    "-signature", s, input_.string()});
  }
  std::filesystem::path shares_, input_;
};

TEST_F(KeySign, EveryAlgorithmSignsAndOpensslVerifies) {
  for (const std::string algo : {"ec-p256", "ec-p384", "rsa-3072", "ed25519"}) {
    SCOPED_TRACE(algo);
    std::vector<std::string> args{"key", "generate", "k-" + algo, "--algo", algo, "--purpose", "code"};
    if (algo == "ed25519") args.push_back("--no-backup");
    ASSERT_EQ(hsmctl(args).code, 0);
    ASSERT_EQ(sign("k-" + algo, algo + ".sig").code, 0);
    const RunResult v = openssl_verify(algo, pub("k-" + algo), algo + ".sig");
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
}

TEST_F(KeySign, TokenKeysAreFrozenAndLimitedToTheirMechanism) {
  ASSERT_EQ(hsmctl({"key", "generate", "root", "--algo", "ec-p384", "--purpose", "ca"}).code, 0);
  const auto doc = hsmctl({"token", "objects", "--json"}).json();
  int found = 0;
  for (const auto& o : doc["objects"]) {
    if (o["label"] != "hsmctl-key-root" || o["class"] != "private-key") continue;
    ++found;
    EXPECT_TRUE(o["sensitive"].get<bool>());
    EXPECT_FALSE(o["extractable"].get<bool>());
    EXPECT_FALSE(o["modifiable"].get<bool>());
  }
  EXPECT_EQ(found, 1);
}

TEST_F(KeySign, EverySignatureIsInTheTranscript) {
  ASSERT_EQ(hsmctl({"key", "generate", "rel"}).code, 0);
  const RunResult r = sign("rel", "rel.sig", {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"input_sha256\":\"" + r.json()["input_sha256"].get<std::string>() + "\""),
            std::string::npos);
  EXPECT_NE(t.find("\"signature_sha256\":\"" + r.json()["signature_sha256"].get<std::string>() + "\""),
            std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(KeySign, QuorumKeyHasNoTokenObjectAndNeedsSharesAtEveryUse) {
  ASSERT_EQ(hsmctl({"key", "generate", "q", "--quorum", "2", "--shares-file", two_shares()}).code, 0);
  const auto doc = hsmctl({"token", "objects", "--json"}).json();
  for (const auto& o : doc["objects"]) EXPECT_NE(o["label"], "hsmctl-key-q");
  expect_failure(sign("q", "q1.sig"), 2, "no terminal");
  expect_failure(sign("q", "q1.sig", {"--shares-file", (shares_ / "b.share").string()}), 5,
                 "1 more needed");
  ASSERT_EQ(sign("q", "q.sig", {"--shares-file", two_shares()}).code, 0);
  EXPECT_EQ(openssl_verify("ec-p256", pub("q"), "q.sig").code, 0);
  // Nothing of the quorum key stays behind after the use either.
  const auto after = hsmctl({"token", "objects", "--json"}).json();
  EXPECT_EQ(after["objects"].size(), doc["objects"].size());
}

TEST_F(KeySign, BadInputGetsTheDocumentedExitCode) {
  ASSERT_EQ(hsmctl({"key", "generate", "k"}).code, 0);
  ASSERT_EQ(sign("k", "exists.sig").code, 0);
  struct Row {
    std::vector<std::string> args;
    int code;
    std::string needle;
  };
  const std::string in = input_.string();
  const std::vector<Row> table = {
      {{"key", "generate", "k"}, 7, "already exists"},
      {{"key", "generate", "e", "--algo", "ed25519"}, 6, "refused C_WrapKey for the new ed25519"},
      {{"key", "generate", "x", "--algo", "dsa"}, 2, "unknown key algorithm"},
      {{"key", "generate", "bad/label"}, 2, "must be 1-64"},
      {{"key", "generate", "y", "--purpose", "web"}, 2, "--purpose"},
      {{"key", "show", "nope"}, 7, "no key labelled 'nope'"},
      {{"key", "export-public", "nope"}, 7, "no key labelled"},
      {{"sign", "file", "--key", "nope", "--in", in, "--out", (tmp_.path() / "n.sig").string()}, 7,
       "no signing key labelled 'nope'"},
      {{"sign", "file", "--key", "k", "--in", in, "--out", (tmp_.path() / "exists.sig").string()}, 7,
       "already exists"},
      {{"sign", "file", "--key", "k", "--in", "/nonexistent", "--out", (tmp_.path() / "m.sig").string()},
       7, "does not exist"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.needle);
    expect_failure(hsmctl(row.args), row.code, row.needle);
  }
}

TEST_F(KeySign, KeysNeedAMasterFirst) {
  // A workspace started by token init, on a token without a master.
  const std::string bare = (tmp_.path() / "bare").string();
  ASSERT_EQ(hsmctl({"--dir", bare, "token", "init", "--label", "bare", "--so-pin-source",
                    "env:SO"}, {{"SO", kSoPin}}).code, 0);
  expect_failure(hsmctl({"--token", "bare", "--dir", bare, "key", "generate", "k"}), 7,
                 "holds no master key");
}

}  // namespace
}  // namespace hsm::test
