// Group data keys through hsmctl serve (issue 30): POST /v1/groups/{name}/deks makes a DEK
// wrapped to the group (no factors) and POST /v1/groups/{name}/deks/open opens it for a member
// with their own password, recorded as dek.opened with the client's fingerprint; the envelope
// the service returns is a DEK file `hsmctl dek open` reads. The allow-list's groups apply; a
// wrong password, a non-member, a changed envelope and a malformed body are refused.
#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class DataServeTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    ASSERT_EQ(create_user("bob").code, 0);
    const RunResult g =
        hsmctl({"group", "create", "vault", "--purpose", "encrypt", "--members", "alice"});
    ASSERT_EQ(g.code, 0) << g.err;
    make_leaf("billing", "ca");
  }
  nlohmann::json open_body(const std::string& user, const nlohmann::json& envelope,
                           const std::string& password = kServePassword) {
    return {{"user", user}, {"password", password}, {"envelope", envelope}};
  }
};

TEST_F(DataServeTest, AMemberOpensWhatTheServiceWrappedAndTheAllowListApplies) {
  const std::string fp = sha256_fingerprint_of(pki("client.crt"));
  const auto list = write_file("allow.txt", "sha256:" + fp + " user:alice group:vault\n"
                                            "cn:billing user:alice\n");
  start(2, {"--allow", list.string()});

  const HttpAnswer made = post("/v1/groups/vault/deks", {{"context", {{"row", "17"}}}});
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string dek = made.json()["dek"];
  EXPECT_EQ(dek.size(), 64u);
  EXPECT_EQ(made.json()["key_version"], 1);
  const nlohmann::json envelope = made.json()["envelope"];
  EXPECT_EQ(envelope["format"], "hsmctl-dek-v1");
  EXPECT_EQ(envelope["context"]["row"], "17");

  const HttpAnswer opened = post("/v1/groups/vault/deks/open", open_body("alice", envelope));
  ASSERT_EQ(opened.status, 200) << opened.body;
  EXPECT_EQ(opened.json()["dek"], dek);
  EXPECT_EQ(opened.json()["dek_id"], envelope["dek_id"]);
  EXPECT_EQ(opened.json()["user"], "alice");
  // The envelope is a DEK file the command line opens to the same DEK.
  const auto file = write_file("row.dek", envelope.dump());
  const RunResult cli = hsmctl({"dek", "open", "--as", "alice", "--in", file.string(),
                                "--password-source", "env:PW", "--json"},
                               {{"PW", kServePassword}});
  ASSERT_EQ(cli.code, 0) << cli.err;
  EXPECT_EQ(cli.json()["dek"], dek);

  // Refusals.
  EXPECT_EQ(post("/v1/groups/vault/deks/open", open_body("alice", envelope, "guess")).status, 401);
  EXPECT_EQ(post("/v1/groups/vault/deks/open", open_body("bob", envelope)).status, 401);
  nlohmann::json changed = envelope;
  std::string w = changed["wrapped_dek"];
  w[3] = w[3] == 'A' ? 'B' : 'A';
  changed["wrapped_dek"] = w;
  const HttpAnswer tampered = post("/v1/groups/vault/deks/open", open_body("alice", changed));
  EXPECT_EQ(tampered.status, 422) << tampered.body;
  nlohmann::json other = envelope;
  other["group"] = "elsewhere";
  EXPECT_EQ(post("/v1/groups/vault/deks/open", open_body("alice", other)).status, 400);
  const HttpAnswer nopw =
      post("/v1/groups/vault/deks/open", {{"user", "alice"}, {"envelope", envelope}});
  EXPECT_EQ(nopw.status, 400) << nopw.body;
  EXPECT_EQ(post("/v1/groups/vault/deks", {{"context", {{"bad key", "x"}}}}).status, 400);
  EXPECT_EQ(post("/v1/groups/nope/deks", nlohmann::json::object()).status, 403);  // not allowed
  // billing may use alice but not the group: 403 on both routes.
  EXPECT_EQ(post("/v1/groups/vault/deks", nlohmann::json::object(), "billing").status, 403);
  EXPECT_EQ(post("/v1/groups/vault/deks/open", open_body("alice", envelope), "billing").status,
            403);

  const std::string t = transcript();
  EXPECT_NE(t.find("\"event\":\"dek.opened\""), std::string::npos);
  EXPECT_NE(t.find("\"client_fingerprint\":\"" + fp + "\""), std::string::npos);
  EXPECT_EQ(t.find(dek), std::string::npos);
  EXPECT_EQ(t.find(kServePassword), std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
