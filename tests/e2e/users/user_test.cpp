// user create | sign | export-public | passwd | otp-enroll | unlock | delete against real SoftHSM
// tokens: signatures checked by stock OpenSSL, codes made by oathtool, the keystore tampered
// with the sqlite3 CLI, and the failure contract of bad input in tables.
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

const std::string kPassword = "correct horse battery staple";

class User : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    data_ = write_file("data.txt", "the quarterly report\n", 0644).string();
  }
  // hsmctl with the password in PW (the sources of every test read env:PW).
  RunResult user(std::vector<std::string> args, const std::string& password = kPassword) {
    args.insert(args.begin(), "user");
    return hsmctl(args, {{"PW", password}, {"PW2", "a new password"}});
  }
  RunResult create(const std::string& name, const std::string& algo = "p256") {
    return user({"create", name, "--algo", algo, "--kdf-profile", "min", "--password-source",
                 "env:PW", "--json"});
  }
  RunResult sign(const std::string& name, const std::string& out, std::vector<std::string> extra = {},
                 const std::string& password = kPassword) {
    std::vector<std::string> args{"sign", name, "--in", data_, "--out", sig(out),
                                  "--password-source", "env:PW", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return user(args, password);
  }
  std::string sig(const std::string& name) { return (tmp_.path() / name).string(); }
  std::string sha256_of(const std::string& file) {
    const std::string out = openssl({"dgst", "-sha256", "-r", file}).out;
    return out.substr(0, 64);
  }
  std::string transcript() { return read_file(ws_ / "transcript.jsonl"); }
  RunResult sql(const std::string& statement) {
    return run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(), statement});
  }
  void set_max_failures(int n) {
    std::ofstream(ws_ / "hsmctl.toml") << "[users]\nmax_auth_failures = " << n << "\n";
  }
  // The base32 seed from `otp-enroll --show-secret`.
  std::string enrol(const std::string& name) {
    const RunResult r = user({"otp-enroll", name, "--password-source", "env:PW", "--show-secret"});
    EXPECT_EQ(r.code, 0) << r.err;
    const size_t at = r.out.find("secret=");
    EXPECT_NE(at, std::string::npos) << r.out;
    return r.out.substr(at + 7, r.out.find('&', at) - at - 7);
  }
  std::string totp(const std::string& seed, const std::string& when = "now") {
    std::string code = run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", when, seed}).out;
    return code.substr(0, 6);
  }

  std::string data_;
};

TEST_F(User, SignaturesOfEveryAlgorithmVerifyWithStockOpenssl) {
  struct Row {
    std::string algo, digest;
    std::vector<std::string> sigopts;
  };
  const std::vector<Row> table = {
      {"p256", "-sha256", {}},
      {"p384", "-sha384", {}},
      {"rsa3072", "-sha256", {"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.algo);
    const std::string name = "u-" + row.algo;
    const RunResult c = create(name, row.algo);
    ASSERT_EQ(c.code, 0) << c.err;
    const RunResult s = sign(name, row.algo + ".sig");
    ASSERT_EQ(s.code, 0) << s.err;
    const std::string pem = (tmp_.path() / (row.algo + ".pem")).string();
    ASSERT_EQ(user({"export-public", name, "--out", pem}).code, 0);
    std::vector<std::string> verify{"dgst", row.digest};
    verify.insert(verify.end(), row.sigopts.begin(), row.sigopts.end());
    verify.insert(verify.end(), {"-verify", pem, "-signature", sig(row.algo + ".sig"), data_});
    const RunResult v = openssl(verify);
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    // The fingerprint is the SHA-256 of the DER public key; the transcript has both digests.
    const std::string der = (tmp_.path() / (row.algo + ".der")).string();
    ASSERT_EQ(openssl({"pkey", "-pubin", "-in", pem, "-outform", "DER", "-out", der}).code, 0);
    EXPECT_EQ(c.json()["fingerprint"], sha256_of(der));
    EXPECT_EQ(s.json()["file_sha256"], sha256_of(data_));
    EXPECT_EQ(s.json()["signature_sha256"], sha256_of(sig(row.algo + ".sig")));
    EXPECT_NE(transcript().find(sha256_of(sig(row.algo + ".sig"))), std::string::npos);
  }
  // The stdout PEM is the same key, and no user key object stays on the token.
  EXPECT_EQ(user({"export-public", "u-p256"}).out, read_file(tmp_.path() / "p256.pem"));
  int private_keys = 0;
  const nlohmann::json objects = hsmctl({"token", "objects", "--json"}).json();
  for (const auto& o : objects["objects"])
    if (o["class"] == "private-key") ++private_keys;
  EXPECT_EQ(private_keys, 2);  // the provisional and the escrowed transcript key
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(User, Ed25519IsRefusedBecauseTheTokenCannotEscrowIt) {
  expect_failure(create("eve", "ed25519"), 6, "refused C_WrapKey for the new ed25519");
  expect_failure(user({"show", "eve"}), 7, "not found");
}

TEST_F(User, WrongPasswordsAreCountedAndLockTheUser) {
  set_max_failures(3);
  ASSERT_EQ(create("alice").code, 0);
  expect_failure(sign("alice", "1.sig", {}, "guess"), 3, "wrong password (or the stored key was changed)");
  EXPECT_EQ(user({"show", "alice", "--json"}).json()["failures"], 1);
  ASSERT_EQ(sign("alice", "ok.sig").code, 0);  // success resets the count
  EXPECT_EQ(user({"show", "alice", "--json"}).json()["failures"], 0);
  expect_failure(sign("alice", "2.sig", {}, "guess"), 3, "2 more failure(s)");
  expect_failure(sign("alice", "3.sig", {}, "guess"), 3, "1 more failure(s)");
  expect_failure(sign("alice", "4.sig", {}, "guess"), 3, "now locked");
  expect_failure(sign("alice", "5.sig"), 3, "is locked");
  EXPECT_FALSE(std::filesystem::exists(sig("5.sig")));
  ASSERT_EQ(user({"unlock", "alice"}).code, 0);
  EXPECT_EQ(sign("alice", "6.sig").code, 0);
  const std::string t = transcript();
  EXPECT_NE(t.find("\"event\":\"user.auth.failed\""), std::string::npos);
  EXPECT_NE(t.find("\"event\":\"user.auth.refused\""), std::string::npos);
  EXPECT_NE(t.find("\"event\":\"user.unlocked\""), std::string::npos);
}

TEST_F(User, TamperedKeystoreFieldsFailAsAuthOrIntegrityNeverAsATokenError) {
  const std::vector<std::string> table = {
      "outer_blob = CASE WHEN substr(outer_blob, 1, 1) = X'00' THEN X'01' ELSE X'00' END"
      " || substr(outer_blob, 2)",
      "outer_blob = substr(outer_blob, 1, 40)",
      "outer_blob = X''",
      "outer_nonce = randomblob(12)",
      "outer_nonce = randomblob(16)",
      "kdf_salt = randomblob(16)",
      "kdf_salt = X'0102'",
      "kdf_opslimit = kdf_opslimit + 1",
      "kdf_memlimit = 1 << 40",
      "key_version = 2",
      "algorithm = 'p384'",
  };
  int i = 0;
  for (const auto& change : table) {
    SCOPED_TRACE(change);
    const std::string name = "t" + std::to_string(i++);
    ASSERT_EQ(create(name).code, 0);
    ASSERT_EQ(sql("UPDATE users SET " + change + " WHERE name = '" + name + "'").code, 0);
    const RunResult r = sign(name, name + ".sig");
    EXPECT_TRUE(r.code == 3 || r.code == 4) << r.code << r.err;
    expect_failure(r, r.code, name);
    EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(sig(name + ".sig")));
  }
}

TEST_F(User, BadInputFollowsTheFailureContract) {
  ASSERT_EQ(create("alice").code, 0);
  write_file("taken.sig", "precious");
  struct Row {
    std::vector<std::string> args;
    int code;
    std::string needle;
  };
  const std::vector<Row> table = {
      {{"create", "alice", "--kdf-profile", "min", "--password-source", "env:PW"}, 7, "already exists"},
      {{"create", "../x", "--password-source", "env:PW"}, 2, "user name"},
      {{"create", "bob", "--algo", "dsa", "--password-source", "env:PW"}, 2, "unknown user key algorithm"},
      {{"create", "bob", "--kdf-profile", "fast", "--password-source", "env:PW"}, 2, "unknown KDF profile"},
      {{"sign", "nobody", "--in", data_, "--out", sig("n.sig"), "--password-source", "env:PW"}, 7, "not found"},
      {{"sign", "alice", "--in", data_, "--out", sig("taken.sig"), "--password-source", "env:PW"}, 7, "already exists"},
      {{"sign", "alice", "--in", sig("missing"), "--out", sig("m.sig"), "--password-source", "env:PW"}, 7, "does not exist"},
      {{"show", "nobody"}, 7, "not found"},
      {{"export-public", "nobody"}, 7, "not found"},
      {{"unlock", "nobody"}, 7, "not found"},
      {{"passwd", "nobody", "--password-source", "env:PW", "--new-password-source", "env:PW2"}, 7, "not found"},
      {{"otp-enroll", "nobody", "--password-source", "env:PW", "--show-secret"}, 7, "not found"},
      {{"otp-enroll", "alice", "--password-source", "env:PW"}, 2, "--show-secret"},
      {{"delete", "alice"}, 2, "--yes"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.args[0] + " " + row.args[1]);
    expect_failure(user(row.args), row.code, row.needle);
  }
  EXPECT_EQ(read_file(tmp_.path() / "taken.sig"), "precious");
  // Without a master on the token there is nothing to seal a user key under.
  hsm_.init_token("bare");
  expect_failure(hsmctl({"--token", "bare", "--dir", (tmp_.path() / "bare").string(), "user",
                         "create", "bob", "--password-source", "env:PW"}, {{"PW", kPassword}}),
                 7, "master init");
  // Every failure that reached a ceremony is in the transcript.
  const std::string t = transcript();
  EXPECT_NE(t.find("user 'alice' already exists"), std::string::npos);
  EXPECT_NE(t.find("user 'nobody' not found"), std::string::npos);
}

TEST_F(User, PasswdReplacesThePasswordAndKeepsTheKey) {
  const RunResult c = create("alice");
  ASSERT_EQ(c.code, 0);
  const RunResult p = user({"passwd", "alice", "--password-source", "env:PW",
                            "--new-password-source", "env:PW2", "--json"});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.json()["key_version"], 2);
  expect_failure(sign("alice", "old.sig"), 3, "wrong password");
  ASSERT_EQ(sign("alice", "new.sig", {}, "a new password").code, 0);
  const auto shown = user({"show", "alice", "--json"}).json();
  EXPECT_EQ(shown["fingerprint"], c.json()["fingerprint"]);
  EXPECT_EQ(shown["key_version"], 2);
  EXPECT_NE(transcript().find("\"event\":\"user.password-changed\""), std::string::npos);
}

TEST_F(User, OneTimeCodesAreRequiredOnceEnrolledAndAcceptedOnce) {
  ASSERT_EQ(create("alice").code, 0);
  expect_failure(user({"otp-enroll", "alice", "--password-source", "env:PW", "--show-secret"},
                      "guess"), 3, "wrong password");
  const std::string seed = enrol("alice");
  ASSERT_EQ(seed.size(), 32u);  // 20 bytes in base32
  const std::string code = totp(seed);
  const RunResult ok = sign("alice", "ok.sig", {"--otp", code});
  ASSERT_EQ(ok.code, 0) << ok.err;
  expect_failure(sign("alice", "again.sig", {"--otp", code}), 3, "already used");
  expect_failure(sign("alice", "none.sig"), 3, "one-time code enrolled");
  const std::string wrong = totp(seed, "2001-01-01 00:00:00 UTC");
  expect_failure(sign("alice", "wrong.sig", {"--otp", wrong}), 3, "wrong one-time code");
  EXPECT_EQ(user({"show", "alice", "--json"}).json()["failures"], 3);
  // The seed never reaches the transcript or the keystore in clear.
  const std::string keystore = read_file(ws_ / "keystore.sqlite") + read_file(ws_ / "keystore.sqlite-wal");
  EXPECT_EQ(transcript().find(seed), std::string::npos);
  EXPECT_EQ(keystore.find(seed), std::string::npos);
  EXPECT_NE(transcript().find("\"event\":\"user.otp-enrolled\""), std::string::npos);
}

TEST_F(User, PasswordsNeverReachTheTranscriptOrTheKeystore) {
  ASSERT_EQ(create("alice").code, 0);
  ASSERT_EQ(sign("alice", "a.sig").code, 0);
  ASSERT_EQ(sign("alice", "b.sig", {}, "a wrong guess").code, 3);
  ASSERT_EQ(user({"passwd", "alice", "--password-source", "env:PW", "--new-password-source",
                  "env:PW2"}).code, 0);
  const std::string all = transcript() + read_file(ws_ / "keystore.sqlite") +
                          read_file(ws_ / "keystore.sqlite-wal");
  for (const std::string& p : {kPassword, std::string("a wrong guess"), std::string("a new password")})
    EXPECT_EQ(all.find(p), std::string::npos) << p;
}

TEST_F(User, DeleteRemovesTheUserAndIsRecorded) {
  ASSERT_EQ(create("alice").code, 0);
  ASSERT_EQ(create("bob").code, 0);
  ASSERT_EQ(hsmctl({"--yes", "user", "delete", "alice"}).code, 0);
  expect_failure(user({"show", "alice"}), 7, "not found");
  const auto list = user({"list", "--json"}).json()["users"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "bob");
  EXPECT_NE(transcript().find("\"event\":\"user.deleted\""), std::string::npos);
}

}  // namespace
}  // namespace hsm::test
