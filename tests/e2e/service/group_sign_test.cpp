// Group signing through hsmctl serve: a member signs for the group with their own password, as
// `group sign --as` does; the signature verifies with openssl against the group's public key
// the service returns, is recorded as group.signed with the client's fingerprint, and comes with
// its receipt. A non-member, a wrong password, a digest and a missing member are refused.
#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class GroupServeTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    ASSERT_EQ(create_user("bob").code, 0);
    const RunResult g = hsmctl({"group", "create", "ops", "--members", "alice"});
    ASSERT_EQ(g.code, 0) << g.err;
  }
  nlohmann::json group_body(const std::string& member, const std::string& data,
                            const std::string& password = kServePassword) {
    return {{"member", member}, {"data", base64(data)}, {"password", password}};
  }
};

std::size_t events_named(const std::string& transcript, const std::string& event) {
  std::size_t n = 0;
  const std::string needle = "\"event\":\"" + event + "\"";
  for (std::size_t at = transcript.find(needle); at != std::string::npos;
       at = transcript.find(needle, at + 1))
    ++n;
  return n;
}

TEST_F(GroupServeTest, AMemberSignsForTheGroupAndTheSignatureVerifiesWithTheGroupKey) {
  start(2);
  const HttpAnswer pub = get("/v1/groups/ops/public-key");
  ASSERT_EQ(pub.status, 200) << pub.body;
  const auto pem = write_file("ops.pem", pub.body);
  const std::string message = "the release manifest\n";
  const auto data = write_file("manifest.txt", message);

  const HttpAnswer a = post("/v1/groups/ops/sign", group_body("alice", message));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json()["algorithm"], "ecdsa-p256-sha256");
  EXPECT_TRUE(a.json().contains("receipt")) << a.body;
  const auto sig_b64 = write_file("m.sig.b64", a.json()["signature"].get<std::string>());
  const auto sig = tmp_.path() / "m.sig";
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig_b64.string(), "-out", sig.string()}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature", sig.string(),
                     data.string()}).code, 0);

  // Refusals: not a member, a wrong password, a digest, no member, an unknown group.
  const HttpAnswer bob = post("/v1/groups/ops/sign", group_body("bob", message));
  EXPECT_EQ(bob.status, 401) << bob.body;
  EXPECT_EQ(post("/v1/groups/ops/sign", group_body("alice", message, "guess")).status, 401);
  const HttpAnswer digest = post("/v1/groups/ops/sign", {{"member", "alice"},
                                                         {"digest", std::string(64, 'a')},
                                                         {"password", kServePassword}});
  EXPECT_EQ(digest.status, 400) << digest.body;
  EXPECT_NE(digest.body.find("signs data only"), std::string::npos) << digest.body;
  const HttpAnswer nomember = post("/v1/groups/ops/sign", {{"data", "aGk="},
                                                           {"password", kServePassword}});
  EXPECT_EQ(nomember.status, 400) << nomember.body;
  EXPECT_NE(nomember.body.find("\\\"member\\\""), std::string::npos) << nomember.body;
  EXPECT_EQ(post("/v1/groups/nope/sign", group_body("alice", message)).status, 404);
  EXPECT_EQ(get("/v1/groups/nope/public-key").status, 404);

  const std::string t = transcript();
  EXPECT_EQ(events_named(t, "group.signed"), 1u);
  EXPECT_NE(t.find("\"client_fingerprint\":\"" + sha256_fingerprint_of(pki("client.crt")) + "\""),
            std::string::npos);
  EXPECT_EQ(t.find(kServePassword), std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
}

}  // namespace
}  // namespace hsm::test
