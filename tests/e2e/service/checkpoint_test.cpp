// The transparency log through hsmctl serve: GET /v1/transcript/checkpoint answers the kept
// signed checkpoint (a C2SP note), and each /v1 signature comes with its receipt (C2SP
// tlog-proof), which `hsmctl receipt verify` accepts offline with the log key, the data and
// the signature.
#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

TEST_F(ServeTest, ASignatureComesWithAReceiptAndTheCheckpointIsServed) {
  start(1);
  const std::string message = "the audited report\n";
  const auto data = write_file("report.txt", message);
  const HttpAnswer a = post("/v1/users/alice/sign", sign_body(message));
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_TRUE(a.json().contains("receipt")) << a.body;
  const auto receipt = write_file("report.tlog-proof", a.json()["receipt"].get<std::string>());
  const auto sig_b64 = write_file("report.sig.b64", a.json()["signature"].get<std::string>());
  const auto sig = tmp_.path() / "report.sig";
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig_b64.string(), "-out", sig.string()}).code, 0);

  const RunResult vkey = hsmctl({"transcript", "export-key", "--vkey"});
  ASSERT_EQ(vkey.code, 0) << vkey.err;
  const auto vkey_file = write_file("log.vkey", vkey.out);
  const RunResult ok = hsmctl({"receipt", "verify", "--receipt", receipt.string(), "--log-key",
                               vkey_file.string(), "--in", data.string(), "--sig", sig.string()});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  // The receipt is about exactly this data.
  const auto other = write_file("other.txt", "another report\n");
  EXPECT_EQ(hsmctl({"receipt", "verify", "--receipt", receipt.string(), "--log-key",
                    vkey_file.string(), "--in", other.string()}).code, 4);

  // The checkpoint served is the one kept, and it covers the signature's entry.
  const HttpAnswer cp = get("/v1/transcript/checkpoint");
  ASSERT_EQ(cp.status, 200) << cp.body;
  EXPECT_EQ(cp.body, read_file(ws_ / "tlog" / "checkpoint"));
  std::istringstream lines(cp.body);
  std::string origin, size;
  std::getline(lines, origin);
  std::getline(lines, size);
  EXPECT_EQ(origin.rfind("hsmctl/", 0), 0u) << cp.body;
  EXPECT_GT(std::stoull(size), a.json()["seq"].get<std::uint64_t>()) << cp.body;
  EXPECT_NE(cp.body.find("\n\xE2\x80\x94 "), std::string::npos) << cp.body;  // "— " signature line
}

}  // namespace
}  // namespace hsm::test
