// The CSC API v2 of hsmctl serve (/csc/v2/) against real SoftHSM tokens: a Python `ssl` client
// drives info, credentials/list, credentials/info, credentials/authorize (password as PIN, TOTP
// code as OTP) and signatures/signHash; every signature is checked with stock openssl and
// recorded in the transcript with the client's fingerprint; a SAD replayed, redeemed twice at
// once, used for other hashes or after it expired, and a wrong PIN or OTP, are refused in CSC's
// error shape.
#include <cctype>
#include <sstream>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

constexpr const char* kSha256Oid = "2.16.840.1.101.3.4.2.1";
constexpr const char* kEcdsaSha256Oid = "1.2.840.10045.4.3.2";

// The whole CSC flow as a remote signing client makes it; prints one JSON object of every
// answer ([status, body]) and writes msgN and sigN.der into the directory given.
const char* const kCscFlow = R"PY(
import base64, hashlib, http.client, json, os, ssl, sys
port, ca, cert, key, password, code, outdir = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)
def call(method, body):
    conn.request("POST", "/csc/v2/" + method, body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return [r.status, json.loads(r.read())]
out = {"info": call("info", {}),
       "list": call("credentials/list", {"credentialInfo": True}),
       "credinfo": call("credentials/info", {"credentialID": "alice"})}
messages = [b"first contract\n", b"second contract\n"]
hashes = [base64.b64encode(hashlib.sha256(m).digest()).decode() for m in messages]
authorize = {"credentialID": "alice", "numSignatures": 2, "hashes": hashes,
             "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1"}
wrong = "111111" if code == "000000" else "000000"
out["wrong_otp"] = call("credentials/authorize", dict(authorize, authData=[
    {"id": "PIN", "value": password}, {"id": "OTP", "value": wrong}]))
out["authorize"] = call("credentials/authorize", dict(authorize, PIN=password, OTP=code))
sign = {"credentialID": "alice", "SAD": out["authorize"][1].get("SAD", ""), "hashes": hashes,
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.10045.4.3.2"}
out["signHash"] = call("signatures/signHash", sign)
out["replay"] = call("signatures/signHash", sign)
for i, m in enumerate(messages):
    open(os.path.join(outdir, "msg%d" % i), "wb").write(m)
for i, s in enumerate(out["signHash"][1].get("signatures", [])):
    open(os.path.join(outdir, "sig%d.der" % i), "wb").write(base64.b64decode(s))
print(json.dumps(out))
)PY";

// Two signHash calls with one SAD, on two connections at once; prints both statuses.
const char* const kTwoAtOnce = R"PY(
import http.client, json, ssl, sys, threading
port, ca, cert, key, body = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
conns = [http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)
         for _ in range(2)]
for c in conns:
    c.connect()
statuses = [0, 0]
def redeem(i):
    conns[i].request("POST", "/csc/v2/signatures/signHash", body=body,
                     headers={"Content-Type": "application/json"})
    statuses[i] = conns[i].getresponse().status
threads = [threading.Thread(target=redeem, args=(i,)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(statuses))
)PY";

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

class CscTest : public ServeTest {
 protected:
  // POSTs `body` to /csc/v2/`method` through the Python client: {status, answer}.
  std::pair<int, nlohmann::json> csc(const std::string& method, const nlohmann::json& body) {
    const RunResult r = python_post("/csc/v2/" + method, body);
    const std::size_t space = r.out.find(' ');
    if (space == std::string::npos) return {0, r.out + r.err};
    return {std::atoi(r.out.c_str()), nlohmann::json::parse(r.out.substr(space + 1), nullptr, false)};
  }
  std::string sha256_b64(const std::string& text) {
    const auto f = write_file("h-" + std::to_string(++hashes_), text);
    const auto bin = tmp_.path() / ("h-" + std::to_string(hashes_) + ".bin");
    EXPECT_EQ(openssl({"dgst", "-sha256", "-binary", "-out", bin.string(), f.string()}).code, 0);
    return openssl({"base64", "-A", "-in", bin.string()}).out;
  }
  nlohmann::json authorize_body(const std::vector<std::string>& hashes,
                                const std::string& pin = kServePassword) {
    return {{"credentialID", "alice"}, {"numSignatures", hashes.size()}, {"hashes", hashes},
            {"hashAlgorithmOID", kSha256Oid}, {"PIN", pin}};
  }
  nlohmann::json sign_hash_body(const std::string& sad, const std::vector<std::string>& hashes) {
    return {{"credentialID", "alice"}, {"SAD", sad}, {"hashes", hashes},
            {"signAlgo", kEcdsaSha256Oid}};
  }
  int hashes_ = 0;
};

void expect_csc_error(const std::pair<int, nlohmann::json>& a, int status,
                      const std::string& error, const std::string& needle) {
  EXPECT_EQ(a.first, status) << a.second.dump();
  ASSERT_TRUE(a.second.is_object()) << a.second.dump();
  EXPECT_EQ(a.second.value("error", ""), error) << a.second.dump();
  EXPECT_NE(a.second.value("error_description", "").find(needle), std::string::npos)
      << a.second.dump();
}

TEST_F(CscTest, APythonClientAuthorisesWithPinAndOtpAndItsHashSignaturesVerifyWithOpenssl) {
  const RunResult e = hsmctl({"user", "otp-enroll", "alice", "--password-source", "env:PW",
                              "--show-secret"}, {{"PW", kServePassword}});
  ASSERT_EQ(e.code, 0) << e.err;
  const std::size_t at = e.out.find("secret=");
  const std::string seed = e.out.substr(at + 7, e.out.find('&', at) - at - 7);
  start();
  const std::string pem = get("/v1/users/alice/public-key").body;
  const auto pem_file = write_file("alice.pem", pem);
  const std::string code =
      run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now", seed}).out.substr(0, 6);
  const RunResult flow =
      python_script(kCscFlow, {kServePassword, code, tmp_.path().string()});
  ASSERT_EQ(flow.code, 0) << flow.err;
  const auto out = nlohmann::json::parse(flow.out);

  EXPECT_EQ(out["info"][0], 200);
  EXPECT_EQ(out["info"][1]["specs"], "2.0.0.0");
  EXPECT_EQ(out["info"][1]["authType"], nlohmann::json::array({"TLS"}));
  EXPECT_NE(out["info"][1]["methods"].dump().find("signatures/signHash"), std::string::npos);
  EXPECT_EQ(out["list"][1]["credentialIDs"], nlohmann::json::array({"alice"})) << out["list"];
  EXPECT_EQ(out["list"][1]["credentialInfos"][0]["credentialID"], "alice");
  const auto& info = out["credinfo"][1];
  EXPECT_EQ(info["key"]["status"], "enabled") << info;
  EXPECT_EQ(info["key"]["algo"], nlohmann::json::array({kEcdsaSha256Oid}));
  EXPECT_EQ(info["key"]["curve"], "1.2.840.10045.3.1.7");
  EXPECT_EQ(info["auth"]["mode"], "explicit");
  EXPECT_EQ(info["auth"]["expression"], "PIN AND OTP");

  // A wrong OTP: refused in CSC's shape, no SAD.
  EXPECT_EQ(out["wrong_otp"][0], 400) << out["wrong_otp"];
  EXPECT_EQ(out["wrong_otp"][1]["error"], "invalid_authentication_data") << out["wrong_otp"];
  EXPECT_FALSE(out["wrong_otp"][1].contains("SAD"));

  ASSERT_EQ(out["authorize"][0], 200) << out["authorize"];
  EXPECT_EQ(out["authorize"][1]["expiresIn"], 300);
  ASSERT_EQ(out["signHash"][0], 200) << out["signHash"];
  ASSERT_EQ(out["signHash"][1]["signatures"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem_file.string(), "-signature",
                       (tmp_.path() / ("sig" + n + ".der")).string(),
                       (tmp_.path() / ("msg" + n)).string()}).code, 0) << "signature " << i;
  }
  // The SAD was used: the same call again is refused.
  EXPECT_EQ(out["replay"][0], 400) << out["replay"];
  EXPECT_EQ(out["replay"][1]["error"], "invalid_request");
  EXPECT_EQ(out["replay"][1]["error_description"], "Invalid parameter SAD");

  // The authorisation and each signature are in the transcript, with the client's
  // fingerprint; the password, the code and the SAD nowhere.
  const std::string t = transcript();
  EXPECT_EQ(occurrences(t, "\"event\":\"user.authorized\""), 1u);
  EXPECT_EQ(occurrences(t, "\"event\":\"user.signed\""), 2u);
  // user.authorized, the two user.signed, and the signHash request in its batch's
  // ceremony.begin (serve.sign, "via": "csc").
  EXPECT_EQ(occurrences(t, "\"client_fingerprint\":\""), 4u);
  EXPECT_NE(t.find("\"requests\":[{\"client_fingerprint\""), std::string::npos);
  EXPECT_EQ(t.find(kServePassword), std::string::npos);
  EXPECT_EQ(t.find(out["authorize"][1]["SAD"].get<std::string>()), std::string::npos);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
}

TEST_F(CscTest, ASadIsRefusedForOtherHashesTwiceAtOnceAndOnceExpiredAsIsAWrongPin) {
  start(2, {"--sad-ttl", "2"});
  const std::string h1 = sha256_b64("one"), h2 = sha256_b64("two");

  expect_csc_error(csc("credentials/authorize", authorize_body({h1}, "guess")), 400,
                   "invalid_authentication_data", "wrong password");
  expect_csc_error(csc("credentials/authorize", {{"numSignatures", 1}}), 400, "invalid_request",
                   "Missing (or invalid type) string parameter credentialID");
  expect_csc_error(csc("credentials/authorize",
                       {{"credentialID", "alice"}, {"authData", {{{"id", "PIN"}, {"value", 5}}}}}),
                   400, "invalid_request", "Invalid parameter PIN");
  expect_csc_error(csc("credentials/info", {{"credentialID", "nobody"}}), 400, "invalid_request",
                   "Invalid parameter credentialID");
  expect_csc_error(csc("credentials/sendOTP", nlohmann::json::object()), 501, "invalid_request",
                   "not implemented");

  // Bound to its hashes: another hash is refused, and the SAD still serves its own.
  auto a = csc("credentials/authorize", authorize_body({h1}));
  ASSERT_EQ(a.first, 200) << a.second;
  EXPECT_EQ(a.second["expiresIn"], 2);
  const std::string sad = a.second["SAD"];
  expect_csc_error(csc("signatures/signHash", sign_hash_body(sad, {h2})), 400, "invalid_request",
                   "Hash is not authorized by the SAD");
  // Redeemed by two connections at once (two workers): one signature.
  const RunResult both = python_script(kTwoAtOnce, {sign_hash_body(sad, {h1}).dump()});
  EXPECT_EQ(both.out, "[200, 400]\n") << both.out << both.err;

  // Expired.
  a = csc("credentials/authorize", authorize_body({h2}));
  ASSERT_EQ(a.first, 200) << a.second;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  expect_csc_error(csc("signatures/signHash", sign_hash_body(a.second["SAD"], {h2})), 400,
                   "invalid_request", "SAD expired");

  const std::string t = transcript();
  EXPECT_EQ(occurrences(t, "\"event\":\"user.authorized\""), 2u);
  EXPECT_EQ(occurrences(t, "\"event\":\"user.signed\""), 1u);
  EXPECT_EQ(occurrences(t, "\"event\":\"user.auth.failed\""), 1u);
}

}  // namespace
}  // namespace hsm::test
