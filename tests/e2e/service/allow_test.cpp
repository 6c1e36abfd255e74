// hsmctl serve --allow: each client certificate (by SHA-256 fingerprint or subject CN) may ask
// only for the users and groups the list gives it, on /v1 and /csc/v2 alike; the others get 403 with a JSON
// error, before any password is checked or anything recorded. A malformed list stops the
// service before it starts, naming the line.
#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class AllowTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    ASSERT_EQ(create_user("bob").code, 0);
    make_leaf("billing", "ca");  // CN=billing
    ASSERT_EQ(hsmctl({"group", "create", "ops", "--members", "alice"}).code, 0);
  }
};

std::string error_text(const HttpAnswer& a) {
  const auto j = a.json();
  return j.is_object() ? j.dump() : a.body;
}

TEST_F(AllowTest, EachClientGetsTheUsersItsLinesGiveAndOthersAre403) {
  const std::string fp = sha256_fingerprint_of(pki("client.crt"));
  const auto list = write_file("allow.txt", "# client      may use\n"
                                            "sha256:" + fp + "  user:alice   # by fingerprint\n"
                                            "cn:billing user:bob group:ops\n");
  start(2, {"--allow", list.string()});

  // client: alice, not bob.
  EXPECT_EQ(get("/v1/users/alice/public-key").status, 200);
  const HttpAnswer pk = get("/v1/users/bob/public-key");
  EXPECT_EQ(pk.status, 403) << pk.body;
  EXPECT_NE(error_text(pk).find("may not use user 'bob'"), std::string::npos) << pk.body;
  EXPECT_EQ(post("/v1/users/alice/sign", sign_body("x")).status, 200);
  const HttpAnswer denied = post("/v1/users/bob/sign", sign_body("x", "guess"));
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(error_text(denied).find("--allow"), std::string::npos) << denied.body;

  // billing (by CN): bob, not alice.
  EXPECT_EQ(post("/v1/users/bob/sign", sign_body("y"), "billing").status, 200);
  EXPECT_EQ(post("/v1/users/alice/sign", sign_body("y"), "billing").status, 403);

  // Groups are given the same way.
  const HttpAnswer group = get("/v1/groups/ops/public-key");
  EXPECT_EQ(group.status, 403) << group.body;
  EXPECT_NE(error_text(group).find("may not use group 'ops'"), std::string::npos) << group.body;
  EXPECT_EQ(curl("/v1/groups/ops/public-key", {}, "billing").status, 200);

  // The CSC API: the list shows the client's own credentials; the others are access_denied.
  const HttpAnswer mine = post("/csc/v2/credentials/list", nlohmann::json::object());
  EXPECT_EQ(mine.json()["credentialIDs"], nlohmann::json::array({"alice"})) << mine.body;
  const HttpAnswer theirs = post("/csc/v2/credentials/list", nlohmann::json::object(), "billing");
  EXPECT_EQ(theirs.json()["credentialIDs"], nlohmann::json::array({"bob"})) << theirs.body;
  const HttpAnswer info = post("/csc/v2/credentials/info", {{"credentialID", "bob"}});
  EXPECT_EQ(info.status, 403) << info.body;
  EXPECT_EQ(info.json()["error"], "access_denied") << info.body;
  const HttpAnswer auth = post("/csc/v2/credentials/authorize",
                               {{"credentialID", "bob"}, {"numSignatures", 1},
                                {"hashes", {std::string(43, 'A') + "="}},
                                {"hashAlgorithmOID", "2.16.840.1.101.3.4.2.1"},
                                {"PIN", "guess"}});
  EXPECT_EQ(auth.status, 403) << auth.body;
  EXPECT_EQ(auth.json()["error"], "access_denied") << auth.body;

  // The refusals reached no user: two signatures, no failure counted or recorded.
  const std::string t = transcript();
  std::size_t signed_count = 0;
  for (std::size_t at = t.find("\"event\":\"user.signed\""); at != std::string::npos;
       at = t.find("\"event\":\"user.signed\"", at + 1))
    ++signed_count;
  EXPECT_EQ(signed_count, 2u);
  EXPECT_EQ(t.find("user.auth.failed"), std::string::npos);
}

TEST_F(AllowTest, AMalformedListStopsTheServiceBeforeItStartsNamingTheLine) {
  const auto list = write_file("allow.txt", "cn:billing user:bob\nsha256:abcd user:alice\n");
  const RunResult r = hsmctl({"serve", "--listen", "127.0.0.1:0", "--tls-cert",
                              pki("server.crt"), "--tls-key", pki("server.key"), "--client-ca",
                              pki("ca.crt"), "--allow", list.string()});
  expect_failure(r, 2, "allow.txt:2: 'sha256:abcd' is no SHA-256 fingerprint");
  const auto empty = write_file("allow2.txt", "cn:billing\n");
  expect_failure(hsmctl({"serve", "--listen", "127.0.0.1:0", "--tls-cert", pki("server.crt"),
                         "--tls-key", pki("server.key"), "--client-ca", pki("ca.crt"),
                         "--allow", empty.string()}),
                 2, "allow2.txt:1: 'cn:billing' is given nothing");
}

}  // namespace
}  // namespace hsm::test
