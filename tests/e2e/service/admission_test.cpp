// What `hsmctl serve` admits under load: rate limits per client certificate and per user (429
// with Retry-After, shared by the workers), a bounded wait for the token (503 with
// Retry-After, every request answered), the counters of /metrics, and the JSON access log.
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

class ServeAdmission : public ServeTest {
 protected:
  // Status and Retry-After of GET `path` (curl -D - prints the headers).
  std::pair<int, std::string> get_with_retry_after(const std::string& path) {
    const HttpAnswer a = curl(path, {}, "client", {"-D", "-"});
    std::string retry;
    std::istringstream lines(a.body);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("retry-after:", 0) == 0 || line.rfind("Retry-After:", 0) == 0)
        retry = line.substr(line.find(':') + 2, line.find('\r') - line.find(':') - 2);
    return {a.status, retry};
  }
  std::string metric(const std::string& name) {
    const std::string text = get("/metrics").body;
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return "absent";
    const auto end = text.find('\n', at + 1);
    return text.substr(at + name.size() + 2, end - at - name.size() - 2);
  }
};

TEST_F(ServeAdmission, AClientOverItsRateGets429WithRetryAfterAcrossWorkers) {
  start(2, {"--client-rate", "1"});  // bursts of 2, shared by both workers
  std::vector<int> statuses;
  std::string retry;
  for (int i = 0; i < 4; ++i) {
    const auto [status, r] = get_with_retry_after("/v1/users/alice/public-key");
    statuses.push_back(status);
    if (status == 429) retry = r;
  }
  EXPECT_EQ(statuses[0], 200);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 2) << statuses[2] << statuses[3];
  EXPECT_FALSE(retry.empty());
  EXPECT_GE(std::atoi(retry.c_str()), 1);
  // The probes are not counted: /healthz and /metrics still answer.
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(metric("hsmctl_serve_refused_total{reason=\"client_rate\"}"), "2");
  // Another client has its own budget.
  make_leaf("second", "ca", "extendedKeyUsage=clientAuth");
  EXPECT_EQ(curl("/v1/users/alice/public-key", {}, "second").status, 200);
}

TEST_F(ServeAdmission, AUserOverTheSigningRateGets429AndNoFailureIsCounted) {
  start(1, {"--user-rate", "0.2"});  // one signature, then one every 5 s
  const HttpAnswer first = post("/v1/users/alice/sign", sign_body("one"));
  EXPECT_EQ(first.status, 200) << first.body;
  const HttpAnswer second = post("/v1/users/alice/sign", sign_body("two", "wrong-password-x"));
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("user 'alice' is over the signing rate"), std::string::npos)
      << second.body;
  // The refused attempt never reached the password check: no failure counted.
  const RunResult u = hsmctl({"--json", "user", "show", "alice"});
  ASSERT_EQ(u.code, 0) << u.err;
  EXPECT_EQ(nlohmann::json::parse(u.out)["failures"], 0) << u.out;
  EXPECT_EQ(metric("hsmctl_serve_refused_total{reason=\"user_rate\"}"), "1");
  // Through the CSC API the same budget holds.
  const RunResult csc = python_post("/csc/v2/credentials/authorize",
                                    {{"credentialID", "alice"}, {"numSignatures", 1},
                                     {"hashes", {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
                                     {"hashAlgorithmOID", "2.16.840.1.101.3.4.2.1"},
                                     {"PIN", kServePassword}});
  EXPECT_EQ(csc.out.rfind("429 ", 0), 0u) << csc.out;
  EXPECT_NE(csc.out.find("temporarily_unavailable"), std::string::npos) << csc.out;
}

TEST_F(ServeAdmission, OverloadIsAnsweredWith503AndTheServiceRecoversAtOnce) {
  start(1, {"--queue", "1", "--user-rate", "0"});
  // 24 clients at once, 5 signatures each, on one worker that lets one request wait: every
  // request gets an answer, a signature or 503 with Retry-After, never a broken connection.
  const std::string script = R"PY(
import base64, http.client, json, ssl, sys, threading
port, ca, cert, key, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
body = json.dumps({"data": base64.b64encode(b"load").decode(), "password": password})
counts, lock = {}, threading.Lock()
def client():
    c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)
    for _ in range(5):
        try:
            c.request("POST", "/v1/users/alice/sign", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            key_ = str(r.status)
            if r.status == 503 and not r.getheader("Retry-After"):
                key_ = "503-without-retry-after"
        except Exception as e:
            key_ = "error " + type(e).__name__
            c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)
        with lock:
            counts[key_] = counts.get(key_, 0) + 1
threads = [threading.Thread(target=client) for _ in range(24)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(counts))
)PY";
  const RunResult r = python_script(script, {kServePassword});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto counts = nlohmann::json::parse(r.out);
  int answered = 0;
  for (const auto& [status, n] : counts.items()) {
    EXPECT_TRUE(status == "200" || status == "503") << r.out;
    answered += n.get<int>();
  }
  EXPECT_EQ(answered, 120) << r.out;
  EXPECT_GT(counts.value("200", 0), 0) << r.out;
  EXPECT_GT(counts.value("503", 0), 0) << r.out;
  EXPECT_EQ(metric("hsmctl_serve_refused_total{reason=\"queue_full\"}"),
            std::to_string(counts.value("503", 0)));
  EXPECT_EQ(metric("hsmctl_serve_queue_depth"), "0");
  // At once: the next request is served.
  EXPECT_EQ(post("/v1/users/alice/sign", sign_body("after")).status, 200);
}

TEST_F(ServeAdmission, TheAccessLogIsAJsonLinePerRequestWithoutBodyOrSecret) {
  const auto log = tmp_.path() / "access.jsonl";
  start(2, {"--access-log", log.string()});
  EXPECT_EQ(post("/v1/users/alice/sign", sign_body("logged")).status, 200);
  EXPECT_EQ(post("/v1/users/alice/sign", sign_body("x", "wrong-password-x")).status, 401);
  server_->signal(SIGTERM);
  const RunResult end = server_->finish(std::chrono::seconds(60));
  server_.reset();
  ASSERT_EQ(end.code, 0) << end.err;
  struct stat st{};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  const std::string text = read_file(log);
  EXPECT_EQ(text.find(kServePassword), std::string::npos);
  EXPECT_EQ(text.find("wrong-password-x"), std::string::npos);
  EXPECT_EQ(text.find("bG9nZ2Vk"), std::string::npos);  // base64 of the data
  std::istringstream lines(text);
  std::map<int, int> by_status;
  for (std::string line; std::getline(lines, line);) {
    const auto a = nlohmann::json::parse(line);  // every line is one JSON object
    for (const char* k : {"time", "worker", "remote", "client", "method", "path", "status", "ms"})
      EXPECT_TRUE(a.contains(k)) << k << " in " << line;
    if (a["path"] == "/v1/users/alice/sign") ++by_status[a["status"].get<int>()];
  }
  EXPECT_EQ(by_status[200], 1) << text;
  EXPECT_EQ(by_status[401], 1) << text;
  // Not on stderr as well.
  EXPECT_EQ(end.err.find("\"path\":\"/v1/users/alice/sign\""), std::string::npos) << end.err;
}

TEST_F(ServeAdmission, ASlowClientIsCutOffAtTheTimeLimitAndOthersAreServed) {
  start(1, {"--request-timeout", "2"});
  // A client that completes the handshake, sends half a request line and then nothing.
  const std::string script = R"PY(
import socket, ssl, sys, time
port, ca, cert, key = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="127.0.0.1")
s.sendall(b"POST /v1/users/alice/sign HTTP/1.1\r\nHost: x\r\n")
start = time.monotonic()
s.settimeout(30)
try:
    data = s.recv(4096)
    print("closed" if not data else "answered", round(time.monotonic() - start),
          data.split(b"\r\n")[0].decode() if data else "")
except (ssl.SSLError, OSError) as e:
    print("closed", round(time.monotonic() - start), type(e).__name__)
)PY";
  const RunResult r = python_script(script);
  ASSERT_EQ(r.code, 0) << r.err;
  // Cut off at the limit: closed, or answered 400 ("the request cannot be read") and closed.
  const bool closed = r.out.rfind("closed ", 0) == 0;
  EXPECT_TRUE(closed || r.out.find("HTTP/1.1 400") != std::string::npos) << r.out;
  const int after = std::atoi(r.out.c_str() + (closed ? 7 : 9));
  EXPECT_GE(after, 1) << r.out;
  EXPECT_LE(after, 6) << r.out;
  EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(ServeAdmission, TheServeTableOfHsmctlTomlGivesDefaultsAndOptionsWin) {
  // Everything from [serve] (paths relative to the workspace), one option on the command line.
  std::filesystem::copy(tmp_.path() / "pki", ws_ / "pki", std::filesystem::copy_options::recursive);
  std::ofstream(ws_ / "hsmctl.toml") << "[serve]\nlisten = \"127.0.0.1:0\"\n"
                                        "tls_cert = \"pki/server.crt\"\ntls_key = \"pki/server.key\"\n"
                                        "client_ca = \"pki/ca.crt\"\nworkers = 1\nclient_rate = 1\n";
  ASSERT_NO_FATAL_FAILURE(adopt(std::make_unique<LiveProcess>(
      std::vector<std::string>{HSMCTL_BINARY, "serve", "--workers", "2"}, base_env(), false)));
  for (int i = 0; i < 50 && children_of(server_->pid()).size() != 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(children_of(server_->pid()).size(), 2u);  // --workers 2 won over workers = 1
  // client_rate = 1 (bursts of 2) from the file.
  int refused = 0;
  for (int i = 0; i < 4; ++i)
    if (get("/v1/users/alice/public-key").status == 429) ++refused;
  EXPECT_EQ(refused, 2);
}

TEST_F(ServeAdmission, WithoutListenAnywhereServeNamesBothPlaces) {
  const RunResult r = hsmctl({"serve", "--tls-cert", pki("server.crt"), "--tls-key",
                              pki("server.key"), "--client-ca", pki("ca.crt")});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--listen (or listen in the [serve] table of hsmctl.toml)"),
            std::string::npos) << r.err;
  std::ofstream(ws_ / "hsmctl.toml") << "[serve]\nworkrs = 2\n";
  const RunResult typo = hsmctl({"serve", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(typo.code, 2) << typo.err;
  EXPECT_NE(typo.err.find("unknown key 'serve.workrs'"), std::string::npos) << typo.err;
}

TEST_F(ServeAdmission, LimitsOutOfRangeAreRefusedBeforeServing) {
  for (const auto& [option, value] : {std::pair{"--queue", "-1"}, std::pair{"--client-rate", "-2"},
                                      std::pair{"--user-rate", "nan"},
                                      std::pair{"--request-timeout", "0"}}) {
    const RunResult r = hsmctl({"serve", "--listen", "127.0.0.1:0", "--tls-cert",
                                pki("server.crt"), "--tls-key", pki("server.key"), "--client-ca",
                                pki("ca.crt"), option, value});
    EXPECT_EQ(r.code, 2) << option << ' ' << r.err;
    EXPECT_NE(r.err.find(option), std::string::npos) << r.err;
  }
  const RunResult r = hsmctl({"serve", "--listen", "127.0.0.1:0", "--tls-cert",
                              pki("server.crt"), "--tls-key", pki("server.key"), "--client-ca",
                              pki("ca.crt"), "--access-log", "/nonexistent-dir/a.log"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot open the access log"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hsm::test
