// What the `hsmctl serve` end-to-end tests share: a workspace with a master key and a user, a
// throwaway CA made with openssl (server, client, and a client of another CA), the service
// started on a free port, and two clients: curl and a Python `ssl` client (stdlib only).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {

inline const std::string kServePassword = "correct horse battery staple";

// An HTTP answer: status 0 when there was none (the client's exit code says why).
struct HttpAnswer {
  int status = 0;
  std::string body;
  int client_exit = 0;
  std::string client_err;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class ServeTest : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    ASSERT_EQ(create_user("alice").code, 0);
    make_pki();
  }
  void TearDown() override {
    if (server_) {
      server_->signal(SIGTERM);
      server_->finish(std::chrono::seconds(60));
    }
  }

  RunResult create_user(const std::string& name, const std::string& algo = "p256") {
    return hsmctl({"user", "create", name, "--algo", algo, "--kdf-profile", "min",
                   "--password-source", "env:PW", "--json"}, {{"PW", kServePassword}});
  }
  std::string pki(const std::string& name) const { return (tmp_.path() / "pki" / name).string(); }

  // ca.crt issues server.crt (127.0.0.1) and client.crt; other-ca.crt issues other.crt.
  void make_pki() {
    std::filesystem::create_directories(tmp_.path() / "pki");
    const auto ca = [&](const std::string& n) {
      ASSERT_EQ(openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", pki(n + ".key"), "-out", pki(n + ".crt"), "-days",
                         "2", "-subj", "/CN=" + n}).code, 0);
    };
    ca("ca");
    ca("other-ca");
    make_leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    make_leaf("client", "ca", "extendedKeyUsage=clientAuth");
    make_leaf("other", "other-ca", "extendedKeyUsage=clientAuth");
  }
  // A certificate with the subject CN `n`, issued by `issuer`, with the extensions `ext`.
  void make_leaf(const std::string& n, const std::string& issuer,
                 const std::string& ext = "extendedKeyUsage=clientAuth") {
    ASSERT_EQ(openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", pki(n + ".key"), "-out", pki(n + ".csr"), "-subj",
                       "/CN=" + n}).code, 0);
    std::ofstream(pki(n + ".ext")) << ext << "\n";
    ASSERT_EQ(openssl({"x509", "-req", "-in", pki(n + ".csr"), "-CA", pki(issuer + ".crt"),
                       "-CAkey", pki(issuer + ".key"), "-CAcreateserial", "-days", "2",
                       "-extfile", pki(n + ".ext"), "-out", pki(n + ".crt")}).code, 0);
  }

  // Starts the service and waits until /healthz answers 200.
  // `env` is added to the service's environment.
  void start(int workers = 2, const std::vector<std::string>& extra = {},
             const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv{HSMCTL_BINARY, "serve", "--listen", "127.0.0.1:0",
                                  "--tls-cert", pki("server.crt"), "--tls-key", pki("server.key"),
                                  "--client-ca", pki("ca.crt"), "--workers",
                                  std::to_string(workers)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::map<std::string, std::string> all_env = base_env();
    for (const auto& [k, v] : env) all_env[k] = v;
    adopt(std::make_unique<LiveProcess>(argv, all_env, false));
  }
  // Takes `server`, a service started some other way (its options from hsmctl.toml, say),
  // as server_: reads its port from the "listening on" line and waits until /healthz answers
  // 200. The one place a test learns the service's port.
  void adopt(std::unique_ptr<LiveProcess> server) {
    server_ = std::move(server);
    ASSERT_TRUE(server_->wait_for("listening on 127.0.0.1:", 0, std::chrono::seconds(30)))
        << server_->shown();
    ASSERT_TRUE(server_->wait_for("\n", 0, std::chrono::seconds(5)));
    const std::string& shown = server_->shown();
    const std::size_t colon = shown.find("127.0.0.1:") + 10;
    port_ = shown.substr(colon, shown.find('\n', colon) - colon);
    for (int i = 0; i < 300; ++i) {
      if (get("/healthz").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "/healthz never answered 200: " << get("/healthz").body;
  }
  std::string url(const std::string& path) const { return "https://127.0.0.1:" + port_ + path; }

  // curl with the client certificate `client` ("" for none) and `extra` options.
  HttpAnswer curl(const std::string& path, const std::string& body_file = {},
                  const std::string& client = "client",
                  const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--cacert", pki("ca.crt"),
                                  "-w", "\n%{http_code}", url(path)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!client.empty())
      argv.insert(argv.end(), {"--cert", pki(client + ".crt"), "--key", pki(client + ".key")});
    if (!body_file.empty())
      argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary",
                               "@" + body_file});
    const RunResult r = run_program(argv);
    HttpAnswer a;
    a.client_exit = r.code;
    a.client_err = r.err;
    const std::size_t nl = r.out.rfind('\n');
    if (nl == std::string::npos) return a;
    a.body = r.out.substr(0, nl);
    a.status = std::atoi(r.out.c_str() + nl + 1);
    return a;
  }
  HttpAnswer get(const std::string& path) { return curl(path); }
  HttpAnswer post(const std::string& path, const nlohmann::json& body,
                  const std::string& client = "client") {
    return post_raw(path, body.dump(), client);
  }
  HttpAnswer post_raw(const std::string& path, const std::string& body,
                      const std::string& client = "client") {
    const auto f = write_file("body-" + std::to_string(++bodies_) + ".json", body);
    return curl(path, f.string(), client);
  }
  nlohmann::json sign_body(const std::string& data, const std::string& password = kServePassword) {
    return {{"data", base64(data)}, {"password", password}};
  }
  std::string base64(const std::string& data) {
    const auto f = write_file("b64-" + std::to_string(++bodies_), data);
    std::string out = openssl({"base64", "-A", "-in", f.string()}).out;
    return out;
  }

  // The Python `ssl` client: POSTs `body` (JSON) to `path`; prints "STATUS BODY" or "ERROR
  // what" when the handshake or the connection fails.
  RunResult python_post(const std::string& path, const nlohmann::json& body,
                        const std::string& client = "client") {
    const std::string script = R"PY(
import http.client, ssl, sys
port, path, body, ca, cert, key = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
if cert:
    ctx.load_cert_chain(cert, key)
try:
    c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
    c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    print(r.status, r.read().decode())
except (ssl.SSLError, OSError, http.client.HTTPException) as e:
    print("ERROR", type(e).__name__, e)
)PY";
    return run_program({"/usr/bin/python3", "-c", script, port_, path, body.dump(), pki("ca.crt"),
                        client.empty() ? "" : pki(client + ".crt"),
                        client.empty() ? "" : pki(client + ".key")});
  }

  // Runs a Python `ssl` client script (stdlib only) with the port, the CA and the client's
  // certificate and key as its first arguments, then `args`.
  RunResult python_script(const std::string& script, const std::vector<std::string>& args = {},
                          const std::string& client = "client") {
    std::vector<std::string> argv{"/usr/bin/python3", "-c", script, port_, pki("ca.crt"),
                                  pki(client + ".crt"), pki(client + ".key")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
  }

  std::string transcript() { return read_file(ws_ / "transcript.jsonl"); }
  std::unique_ptr<LiveProcess> server_;
  std::string port_;
  int bodies_ = 0;
};

// The SHA-256 fingerprint of a PEM certificate, lowercase hex without colons.
inline std::string sha256_fingerprint_of(const std::string& cert) {
  std::string out = run_program({"/usr/bin/openssl", "x509", "-noout", "-fingerprint", "-sha256",
                                 "-in", cert}).out;
  out = out.substr(out.find('=') + 1);
  std::string hex;
  for (char c : out)
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
  return hex;
}

// The worker processes of `pid` (its children).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t c; in >> c;) out.push_back(c);
  return out;
}

}  // namespace hsm::test
