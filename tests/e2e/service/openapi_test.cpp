// docs/openapi.json against the running service: the document is checked as OpenAPI 3.1 and
// every /v1 (users and groups) and /csc/v2 operation's real requests and answers (successes and refusals) are
// validated against its schemas by tests/e2e/service/openapi_check.py (Debian's
// python3-jsonschema). A document that says something the service does not do fails the check.
#include <fstream>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

const std::string kOpenApi = std::string(HSMCTL_SOURCE_DIR) + "/docs/openapi.json";
const std::string kChecker = std::string(HSMCTL_SOURCE_DIR) + "/tests/e2e/service/openapi_check.py";

class OpenApiTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    ASSERT_EQ(hsmctl({"group", "create", "ops", "--members", "alice"}).code, 0);
  }
  RunResult check(const std::string& document) {
    return run_program({"/usr/bin/python3", kChecker, port_, pki("ca.crt"), pki("client.crt"),
                        pki("client.key"), document, kServePassword, "alice"});
  }
};

TEST_F(OpenApiTest, TheDocumentDescribesEveryRequestAndAnswerOfTheService) {
  start(1);
  const RunResult r = check(kOpenApi);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("checked 21 exchanges"), std::string::npos) << r.out << r.err;

  // The check is real: a document that promises a member the answers lack fails it.
  auto doc = nlohmann::json::parse(read_file(kOpenApi));
  doc["components"]["schemas"]["SignResponse"]["required"].push_back("signed_at");
  const auto changed = write_file("openapi-changed.json", doc.dump());
  const RunResult bad = check(changed.string());
  EXPECT_EQ(bad.code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("'signed_at' is a required property"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace hsm::test
