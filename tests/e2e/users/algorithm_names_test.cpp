// One spelling of algorithms across commands: every command takes both ec-p384 and p384, text
// prints the hsmctl form (ec-p384), and the JSON of each command stays what it was (user and
// group records keep the short form, signing keys the long one). And `user list` has a header.
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class AlgorithmNames : public HsmTest {
 protected:
  void SetUp() override { ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0); }
  RunResult create(const std::string& name, const std::string& algo) {
    return hsmctl({"--json", "user", "create", name, "--algo", algo, "--kdf-profile", "min",
                   "--password-source", "env:PW"}, {{"PW", "algorithm names password"}});
  }
};

TEST_F(AlgorithmNames, EitherSpellingEverywhereOneInTextJsonUnchanged) {
  RunResult r = create("alice", "ec-p384");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "p384");
  r = create("bob", "p256");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "p256");
  r = create("carol", "rsa-3072");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "rsa3072");

  r = hsmctl({"--json", "key", "generate", "k1", "--algo", "p384"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "ec-p384");
  r = hsmctl({"--json", "key", "generate", "k2", "--algo", "ec-p256"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "ec-p256");

  r = hsmctl({"--json", "group", "create", "ops", "--members", "alice,bob", "--algo", "ec-p384"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["algorithm"], "p384");

  const auto rows = write_file("rows.csv", "name,password,algo\ndave,pw-of-dave-1,ec-p384\n"
                                           "erin,pw-of-erin-1,p256\n");
  r = hsmctl({"user", "provision", "--from", rows.string(), "--kdf-profile", "min", "--algo",
              "ec-p256"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(hsmctl({"--json", "user", "show", "dave"}).json()["algorithm"], "p384");
  EXPECT_EQ(hsmctl({"--json", "user", "show", "erin"}).json()["algorithm"], "p256");

  // Text: the hsmctl form only.
  const std::string shown = hsmctl({"user", "show", "alice"}).out;
  EXPECT_NE(shown.find("algorithm    ec-p384\n"), std::string::npos) << shown;
  const std::string groups = hsmctl({"group", "show", "ops"}).out;
  EXPECT_NE(groups.find("ec-p384"), std::string::npos) << groups;

  // A signature made with a user key spelled either way verifies as before.
  const auto data = write_file("d.txt", "x\n");
  EXPECT_EQ(hsmctl({"user", "sign", "alice", "--in", data.string(), "--out",
                    (tmp_.path() / "d.sig").string(), "--password-source", "env:PW"},
                   {{"PW", "algorithm names password"}}).code, 0);

  // An unknown name lists the hsmctl forms.
  expect_failure(create("frank", "p521"), 2, "unknown user key algorithm 'p521'; use ec-p256, "
                                             "ec-p384, rsa-3072 or ed25519");
  expect_failure(hsmctl({"key", "generate", "k3", "--algo", "p521"}), 2,
                 "unknown key algorithm 'p521'; use ec-p256");
}

TEST_F(AlgorithmNames, UserListHasAHeaderRowLikeKeyList) {
  ASSERT_EQ(create("alice", "p256").code, 0);
  const RunResult r = hsmctl({"user", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string header = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(header.rfind("NAME", 0), 0u) << r.out;
  for (const char* column : {"ALGO", "FINGERPRINT", "VERSION", "OTP", "STATUS"})
    EXPECT_NE(header.find(column), std::string::npos) << column;
  const std::string row = r.out.substr(header.size() + 1);
  EXPECT_EQ(row.rfind("alice", 0), 0u) << r.out;
  EXPECT_EQ(row.find("ec-p256"), header.find("ALGO")) << r.out;
  EXPECT_NE(row.find(" no "), std::string::npos) << r.out;
  EXPECT_NE(row.find(" ok"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hsm::test
