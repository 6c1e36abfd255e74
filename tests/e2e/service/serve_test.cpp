// hsmctl serve against real SoftHSM tokens: curl and a Python ssl client over mutual TLS,
// every signature checked with stock openssl against the public key the service returns, the
// lockout and single-use codes shared with the CLI, the handshake refusals, a worker killed
// and replaced, and the drain on SIGTERM.
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

// curl's exit code when the server ends the TLS 1.3 handshake over the client's certificate:
// 56 (receive) or 35 (handshake), or 55 (send) when the alert and the close come while curl
// is still writing its first bytes; never an HTTP status.
bool refused_in_handshake(int curl_exit) {
  return curl_exit == 56 || curl_exit == 35 || curl_exit == 55;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

TEST_F(ServeTest, SignaturesOfDataAndDigestsVerifyWithOpensslAndAreEachRecorded) {
  start();
  const HttpAnswer pub = get("/v1/users/alice/public-key");
  ASSERT_EQ(pub.status, 200) << pub.body;
  ASSERT_NE(pub.body.find("-----BEGIN PUBLIC KEY-----"), std::string::npos) << pub.body;
  const auto pem = write_file("alice.pem", pub.body);
  const std::string message = "the quarterly report\n";
  const auto data = write_file("data.txt", message);

  // 1. Data, through curl.
  const HttpAnswer a = post("/v1/users/alice/sign", sign_body(message));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json()["algorithm"], "ecdsa-p256-sha256");
  const auto sig_a = write_file("a.sig.b64", a.json()["signature"].get<std::string>());
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig_a.string(), "-out", (tmp_.path() / "a.sig").string()}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature",
                     (tmp_.path() / "a.sig").string(), data.string()}).code, 0);

  // 2. A SHA-256 digest made here, through curl; checked with pkeyutl over the digest.
  const std::string digest_hex =
      openssl({"dgst", "-sha256", "-r", data.string()}).out.substr(0, 64);
  const HttpAnswer b = post("/v1/users/alice/sign", {{"digest", digest_hex},
                                                     {"digest_alg", "sha256"},
                                                     {"password", kServePassword}});
  ASSERT_EQ(b.status, 200) << b.body;
  const auto sig_b = write_file("b.sig.b64", b.json()["signature"].get<std::string>());
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig_b.string(), "-out", (tmp_.path() / "b.sig").string()}).code, 0);
  ASSERT_EQ(openssl({"dgst", "-sha256", "-binary", "-out", (tmp_.path() / "digest.bin").string(),
                     data.string()}).code, 0);
  EXPECT_EQ(openssl({"pkeyutl", "-verify", "-pubin", "-inkey", pem.string(), "-in",
                     (tmp_.path() / "digest.bin").string(), "-sigfile",
                     (tmp_.path() / "b.sig").string()}).code, 0);

  // 3. Data, through Python's ssl module (TLS 1.3, client certificate).
  const RunResult py = python_post("/v1/users/alice/sign", sign_body(message));
  ASSERT_EQ(py.out.rfind("200 ", 0), 0u) << py.out << py.err;
  const auto answer = nlohmann::json::parse(py.out.substr(4));
  const auto sig_c = write_file("c.sig.b64", answer["signature"].get<std::string>());
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig_c.string(), "-out", (tmp_.path() / "c.sig").string()}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature",
                     (tmp_.path() / "c.sig").string(), data.string()}).code, 0);

  // One user.signed per signature, at the seq each answer gave, with the client's fingerprint;
  // the password nowhere.
  const std::string t = transcript();
  EXPECT_EQ(count_of(t, "\"event\":\"user.signed\""), 3u);
  const std::string fp = sha256_fingerprint_of(pki("client.crt"));
  std::map<std::uint64_t, std::string> events;
  std::istringstream lines(t);
  std::size_t signed_by_client = 0, requests_named = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto e = nlohmann::json::parse(line);
    events[e["seq"].get<std::uint64_t>()] = e["event"].get<std::string>();
    if (e["event"] == "user.signed" && e["data"]["client_fingerprint"] == fp) ++signed_by_client;
    // Each request is named, with its client, in the ceremony.begin of its batch.
    if (e["event"] == "ceremony.begin" && e["data"]["what"] == "serve.sign")
      for (const auto& r : e["data"]["params"]["requests"])
        if (r["user"] == "alice" && r["client_fingerprint"] == fp) ++requests_named;
  }
  EXPECT_EQ(signed_by_client, 3u) << fp;
  EXPECT_EQ(requests_named, 3u) << fp;
  for (const auto& seq : {a.json()["seq"], b.json()["seq"], answer["seq"]})
    EXPECT_EQ(events[seq.get<std::uint64_t>()], "user.signed") << "at seq " << seq;
  EXPECT_NE(t.find("\"input_sha256\":\"" + digest_hex + "\""), std::string::npos);
  EXPECT_EQ(t.find(kServePassword), std::string::npos);
  const RunResult v = hsmctl({"transcript", "verify"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  server_->signal(SIGTERM);
  const RunResult end = server_->finish(std::chrono::seconds(60));
  server_.reset();
  EXPECT_EQ(end.code, 0) << end.err;
  EXPECT_EQ(end.err.find(kServePassword), std::string::npos);
  // The access log (stderr by default): a JSON object per request, without the body.
  bool logged = false;
  std::istringstream err_lines(end.err);
  for (std::string line; std::getline(err_lines, line);) {
    if (!line.starts_with("{")) continue;
    const auto entry = nlohmann::json::parse(line);
    if (entry["path"] == "/v1/users/alice/sign" && entry["method"] == "POST" &&
        entry["status"] == 200) {
      logged = true;
      EXPECT_EQ(entry["client"].get<std::string>().size(), 64u) << line;
      EXPECT_EQ(entry["client_cn"], "client") << line;
    }
  }
  EXPECT_TRUE(logged) << end.err;
}

TEST_F(ServeTest, BadRequestsAnswerAJsonErrorWithTheirStatus) {
  start(1);
  const auto error_of = [](const HttpAnswer& a) {
    const auto j = a.json();
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "(none)";
  };
  struct Case {
    std::string path, body;
    int status;
    std::string needle;
  };
  const std::string digest31(62, 'a');
  const std::vector<Case> cases{
      {"/v1/users/alice/sign", "{not json", 400, "not JSON"},
      {"/v1/users/alice/sign", "[1]", 400, "JSON object"},
      {"/v1/users/alice/sign", R"({"data":"aGk="})", 400, "\"password\" is missing"},
      {"/v1/users/alice/sign", R"({"password":"x"})", 400, "either \"data\""},
      {"/v1/users/alice/sign", R"({"data":"%%%","password":"x"})", 400, "not base64"},
      {"/v1/users/alice/sign",
       R"({"digest":")" + digest31 + R"(","digest_alg":"sha256","password":"x"})", 400,
       "32 bytes"},
      {"/v1/users/alice/sign", R"({"digest":"zz","digest_alg":"md5","password":"x"})", 400,
       "digest_alg"},
      {"/v1/users/nobody/sign", R"({"data":"aGk=","password":"x"})", 404, "not found"},
      {"/v1/nothing", R"({})", 404, "no such endpoint"},
      {"/v1/users/alice/sign", std::string((1 << 20) + 1, ' '), 413, "over the limit"},
  };
  for (const Case& c : cases) {
    const HttpAnswer a = post_raw(c.path, c.body);
    EXPECT_EQ(a.status, c.status) << c.path << " " << c.body.substr(0, 80) << ": " << a.body;
    EXPECT_NE(error_of(a).find(c.needle), std::string::npos)
        << c.body.substr(0, 80) << ": " << a.body;
  }
  const HttpAnswer missing = get("/v1/users/nobody/public-key");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(error_of(missing).find("not found"), std::string::npos) << missing.body;
  // None of them was a signature.
  EXPECT_EQ(count_of(transcript(), "\"event\":\"user.signed\""), 0u);
}

TEST_F(ServeTest, WrongPasswordsLockTheUserForTheServiceAndTheCli) {
  std::ofstream(ws_ / "hsmctl.toml") << "[users]\nmax_auth_failures = 3\n";
  start();
  for (int i = 0; i < 3; ++i) {
    const HttpAnswer a = post("/v1/users/alice/sign", sign_body("x", "guess"));
    EXPECT_EQ(a.status, 401) << a.body;
    EXPECT_NE(a.body.find("wrong password"), std::string::npos) << a.body;
  }
  const HttpAnswer locked = post("/v1/users/alice/sign", sign_body("x"));
  EXPECT_EQ(locked.status, 423) << locked.body;
  EXPECT_NE(locked.body.find("is locked"), std::string::npos) << locked.body;
  // The CLI sees the same lock.
  const auto in = write_file("in.txt", "x");
  const RunResult cli = hsmctl({"user", "sign", "alice", "--in", in.string(), "--out",
                                (tmp_.path() / "cli.sig").string(), "--password-source", "env:PW"},
                               {{"PW", kServePassword}});
  expect_failure(cli, 3, "is locked");
  const HttpAnswer m = get("/metrics");
  EXPECT_NE(m.body.find("hsmctl_serve_lockouts_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("hsmctl_serve_requests_total{endpoint=\"sign\",code=\"401\"} 3\n"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find("hsmctl_serve_request_duration_seconds_bucket{endpoint=\"sign\","
                        "le=\"+Inf\"} 4\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("# TYPE hsmctl_serve_request_duration_seconds histogram\n"),
            std::string::npos);
}

TEST_F(ServeTest, UsersAtTheInteractiveProfileSignAndAWrongPasswordIsStillCounted) {
  // Their password is stretched before the workspace lock (the KDF is the cost), from a row
  // read without the lock; the ceremony checks everything again under it.
  ASSERT_EQ(hsmctl({"user", "create", "slow", "--algo", "p256", "--kdf-profile", "interactive",
                    "--password-source", "env:PW"}, {{"PW", kServePassword}}).code, 0);
  start();
  const HttpAnswer pub = get("/v1/users/slow/public-key");
  ASSERT_EQ(pub.status, 200) << pub.body;
  const auto pem = write_file("slow.pem", pub.body);
  const auto data = write_file("slow.txt", "stretched early\n");
  const HttpAnswer a = post("/v1/users/slow/sign", sign_body("stretched early\n"));
  ASSERT_EQ(a.status, 200) << a.body;
  const auto sig64 = write_file("slow.sig.b64", a.json()["signature"].get<std::string>());
  const auto sig = tmp_.path() / "slow.sig";
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig64.string(), "-out", sig.string()}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature", sig.string(),
                     data.string()}).code, 0);
  const HttpAnswer wrong = post("/v1/users/slow/sign", sign_body("x", "not-the-password"));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  // A new password (new salt) while the service runs: the old one is refused, the new one signs.
  ASSERT_EQ(hsmctl({"user", "passwd", "slow", "--password-source", "env:PW",
                    "--new-password-source", "env:NEW"},
                   {{"PW", kServePassword}, {"NEW", "a-new-password-42"}}).code, 0);
  EXPECT_EQ(post("/v1/users/slow/sign", sign_body("y")).status, 401);
  EXPECT_EQ(post("/v1/users/slow/sign", sign_body("y", "a-new-password-42")).status, 200);
  const RunResult show = hsmctl({"--json", "user", "show", "slow"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(show.json()["failures"], 0) << show.out;  // reset by the good signature
}

TEST_F(ServeTest, AOneTimeCodeIsAcceptedOnce) {
  const RunResult e = hsmctl({"user", "otp-enroll", "alice", "--password-source", "env:PW",
                              "--show-secret"}, {{"PW", kServePassword}});
  ASSERT_EQ(e.code, 0) << e.err;
  const std::size_t at = e.out.find("secret=");
  const std::string seed = e.out.substr(at + 7, e.out.find('&', at) - at - 7);
  start();
  const HttpAnswer none = post("/v1/users/alice/sign", sign_body("x"));
  EXPECT_EQ(none.status, 401) << none.body;
  const std::string code =
      run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now", seed}).out.substr(0, 6);
  nlohmann::json body = sign_body("x");
  body["otp"] = code;
  const HttpAnswer ok = post("/v1/users/alice/sign", body);
  EXPECT_EQ(ok.status, 200) << ok.body;
  const HttpAnswer again = post("/v1/users/alice/sign", body);
  EXPECT_EQ(again.status, 401) << again.body;
  EXPECT_NE(again.body.find("already used"), std::string::npos) << again.body;
  EXPECT_EQ(transcript().find(code + "\""), std::string::npos);
}

TEST_F(ServeTest, ClientsWithoutACertificateOfTheClientCaAreRefusedInTheHandshake) {
  start(1);
  const HttpAnswer none = curl("/healthz", {}, "");
  EXPECT_EQ(none.status, 0) << none.body;
  EXPECT_TRUE(refused_in_handshake(none.client_exit)) << none.client_exit << none.client_err;
  const HttpAnswer other = curl("/healthz", {}, "other");
  EXPECT_EQ(other.status, 0) << other.body;
  EXPECT_TRUE(refused_in_handshake(other.client_exit)) << other.client_exit << other.client_err;
  // TLS 1.3 only: a client that stops at TLS 1.2 is refused even with a good certificate.
  const HttpAnswer tls12 = curl("/healthz", {}, "client", {"--tls-max", "1.2"});
  EXPECT_EQ(tls12.status, 0) << tls12.body;
  EXPECT_EQ(tls12.client_exit, 35) << tls12.client_err;
  const RunResult py = python_post("/v1/users/alice/sign", sign_body("x"), "");
  EXPECT_EQ(py.out.rfind("ERROR ", 0), 0u) << py.out << py.err;
  const RunResult py_other = python_post("/v1/users/alice/sign", sign_body("x"), "other");
  EXPECT_EQ(py_other.out.rfind("ERROR ", 0), 0u) << py_other.out << py_other.err;
  EXPECT_EQ(count_of(transcript(), "\"event\":\"user.signed\""), 0u);
  EXPECT_EQ(get("/healthz").status, 200);  // and the service still answers
}

TEST_F(ServeTest, AKilledWorkerIsReplacedAndSigtermDrainsToExitZero) {
  start(2);
  std::vector<pid_t> workers = children_of(server_->pid());
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  ASSERT_TRUE(server_->wait_for_stderr("ended (signal 9)", std::chrono::seconds(30)));
  std::vector<pid_t> now;
  for (int i = 0; i < 100 && now.size() != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = children_of(server_->pid());
  }
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(std::find(now.begin(), now.end(), workers[0]), now.end());
  for (int i = 0; i < 4; ++i) {
    const HttpAnswer a = post("/v1/users/alice/sign", sign_body("after " + std::to_string(i)));
    EXPECT_EQ(a.status, 200) << a.body;
  }
  EXPECT_NE(get("/metrics").body.find("hsmctl_serve_worker_restarts_total 1\n"), std::string::npos);
  server_->signal(SIGTERM);
  const RunResult end = server_->finish(std::chrono::seconds(60));
  server_.reset();
  EXPECT_EQ(end.code, 0) << end.err;
  for (pid_t w : now) EXPECT_NE(::kill(w, 0), 0) << "worker " << w << " still runs";
  EXPECT_EQ(count_of(transcript(), "\"event\":\"user.signed\""), 4u);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
}

TEST_F(ServeTest, ATokenThatRefusesThePinEndsTheServiceWithExit3) {
  std::vector<std::string> argv{HSMCTL_BINARY, "serve", "--listen", "127.0.0.1:0", "--tls-cert",
                                pki("server.crt"), "--tls-key", pki("server.key"), "--client-ca",
                                pki("ca.crt")};
  auto env = base_env();
  env["HSMCTL_TEST_PIN"] = "0000-wrong";
  LiveProcess p(argv, env, false);
  const RunResult r = p.finish(std::chrono::seconds(60));
  expect_failure(r, 3, "the token refused the PIN from --pin-source");
  EXPECT_EQ(r.err.find("0000-wrong"), std::string::npos);
}

}  // namespace
}  // namespace hsm::test
