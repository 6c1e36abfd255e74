// group create | add | remove | list | show | sign | export-public against real SoftHSM tokens:
// signatures checked by stock OpenSSL, the keystore tampered with the sqlite3 CLI, and the
// failure contract in one table. A non-member is refused with exit 3 (authentication: they hold
// no layer of the key, so no factor of theirs can open it).
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Group : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    data_ = write_file("data.txt", "the release notes\n", 0644).string();
  }
  // Every user's password is "password of NAME", in the variable PW_NAME; only the variables
  // a test passes exist in the child's environment.
  static std::string password_of(const std::string& name) { return "password of " + name; }
  static std::string var_of(const std::string& name) { return "PW_" + name; }
  RunResult run(std::vector<std::string> args, const std::vector<std::string>& who = {}) {
    std::map<std::string, std::string> env;
    for (const auto& w : who) env[var_of(w)] = password_of(w);
    return hsmctl(args, env);
  }
  void create_user(const std::string& name) {
    const RunResult r = run({"user", "create", name, "--kdf-profile", "min", "--password-source",
                             "env:" + var_of(name)}, {name});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  RunResult sign(const std::string& group, const std::string& as, const std::string& out,
                 const std::string& password_of_user = "") {
    const std::string pw = password_of_user.empty() ? as : password_of_user;
    return run({"group", "sign", group, "--as", as, "--in", data_, "--out", path(out),
                "--password-source", "env:" + var_of(pw), "--json"}, {pw});
  }
  std::string path(const std::string& name) { return (tmp_.path() / name).string(); }
  std::string export_public(const std::string& group, const std::string& file) {
    const RunResult r = run({"group", "export-public", group, "--out", path(file)});
    EXPECT_EQ(r.code, 0) << r.err;
    return read_file(path(file));
  }
  RunResult verify(const std::string& pem, const std::string& sig, const std::string& digest = "-sha256") {
    return openssl({"dgst", digest, "-verify", path(pem), "-signature", path(sig), data_});
  }
  RunResult sql(const std::string& statement) {
    return run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(), statement});
  }
  std::string transcript() { return read_file(ws_ / "transcript.jsonl"); }

  std::string data_;
};

TEST_F(Group, EveryMemberSignsAndOpensslVerifiesAgainstExportPublic) {
  struct Row {
    std::string algo, digest;
    std::vector<std::string> sigopts;
  };
  const std::vector<Row> table = {
      {"p256", "-sha256", {}},
      {"p384", "-sha384", {}},
      {"rsa3072", "-sha256", {"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
  };
  create_user("alice");
  create_user("bob");
  for (const auto& row : table) {
    SCOPED_TRACE(row.algo);
    const std::string g = "g-" + row.algo;
    const RunResult c = run({"group", "create", g, "--members", "alice,bob", "--algo", row.algo,
                             "--json"});
    ASSERT_EQ(c.code, 0) << c.err;
    EXPECT_EQ(c.json()["members"], (nlohmann::json{"alice", "bob"}));
    export_public(g, g + ".pem");
    for (const std::string as : {"alice", "bob"}) {
      const std::string sig = g + "-" + as + ".sig";
      const RunResult s = sign(g, as, sig);
      ASSERT_EQ(s.code, 0) << s.err;
      std::vector<std::string> args{"dgst", row.digest, "-verify", path(g + ".pem")};
      args.insert(args.end(), row.sigopts.begin(), row.sigopts.end());
      args.insert(args.end(), {"-signature", path(sig), data_});
      const RunResult v = openssl(args);
      EXPECT_EQ(v.code, 0) << v.out << v.err;
      // The transcript holds the file's and the signature's digests.
      const nlohmann::json j = s.json();
      EXPECT_NE(transcript().find("\"file_sha256\":\"" + j["file_sha256"].get<std::string>()),
                std::string::npos);
      EXPECT_NE(transcript().find("\"signature_sha256\":\"" +
                                  j["signature_sha256"].get<std::string>()),
                std::string::npos);
    }
  }
  const RunResult list = run({"group", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.json()["groups"].size(), 3u);
  EXPECT_NE(transcript().find("\"event\":\"group.created\""), std::string::npos);
  EXPECT_NE(transcript().find("\"event\":\"group.signed\""), std::string::npos);
}

TEST_F(Group, NonMemberIsRefusedWithExit3AndTheRefusalIsRecorded) {
  create_user("alice");
  create_user("mallory");
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  expect_failure(sign("ops", "mallory", "m.sig"), 3, "is not a member of group 'ops'");
  EXPECT_FALSE(std::filesystem::exists(path("m.sig")));
  EXPECT_NE(transcript().find("\"event\":\"group.access.refused\""), std::string::npos);
}

TEST_F(Group, AddNeedsOnlyTheSponsoringMembersPassword) {
  create_user("alice");
  create_user("bob");
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  const std::string before = export_public("ops", "before.pem");
  // Only alice's password is in the environment: not bob's.
  const RunResult add = run({"group", "add", "ops", "bob", "--as", "alice", "--password-source",
                             "env:" + var_of("alice"), "--json"}, {"alice"});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_EQ(add.json()["members"], (nlohmann::json{"alice", "bob"}));
  EXPECT_EQ(add.json()["key_version"], 1);
  EXPECT_EQ(export_public("ops", "after.pem"), before);  // adding keeps the key
  const RunResult s = sign("ops", "bob", "bob.sig");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(verify("after.pem", "bob.sig").code, 0);
  EXPECT_NE(transcript().find("\"event\":\"group.member-added\""), std::string::npos);
}

TEST_F(Group, RemoveRotatesTheKeyAndShutsTheRemovedMemberOut) {
  for (const std::string u : {"alice", "bob", "carol"}) create_user(u);
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice,bob,carol"}).code, 0);
  const std::string v1 = export_public("ops", "v1.pem");
  const RunResult rm = run({"group", "remove", "ops", "bob", "--json"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.json()["key_version"], 2);
  EXPECT_EQ(rm.json()["members"], (nlohmann::json{"alice", "carol"}));
  const std::string v2 = export_public("ops", "v2.pem");
  EXPECT_NE(v1, v2);
  expect_failure(sign("ops", "bob", "bob.sig"), 3, "is not a member");
  for (const std::string as : {"alice", "carol"}) {
    const RunResult s = sign("ops", as, as + ".sig");
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(verify("v2.pem", as + ".sig").code, 0);
    EXPECT_NE(verify("v1.pem", as + ".sig").code, 0);  // the old key is gone
  }
  EXPECT_EQ(sql("SELECT count(*) FROM group_members").out, "2\n");
  EXPECT_NE(transcript().find("\"event\":\"group.rotated\""), std::string::npos);
}

TEST_F(Group, UserMadeBeforeGroupKeysGetsAnAgreementKeyOnTheirNextPasswordUse) {
  // 'user provision' makes users without a key-agreement key, like hsmctl before group keys.
  const auto batch = write_file("batch.csv", "name,password\nalice," + password_of("alice") + "\n");
  const RunResult p = run({"user", "provision", "--from", batch.string(), "--kdf-profile", "min"});
  ASSERT_EQ(p.code, 0) << p.err;
  ASSERT_EQ(sql("SELECT count(*) FROM users WHERE ecdh_public_key IS NULL").out, "1\n");
  expect_failure(run({"group", "create", "ops", "--members", "alice"}), 1,
                 "has no key-agreement key yet");
  const RunResult pw = run({"user", "passwd", "alice", "--password-source", "env:PW_alice",
                            "--new-password-source", "env:PW_x"}, {"alice", "x"});
  ASSERT_EQ(pw.code, 0) << pw.err;
  EXPECT_NE(transcript().find("\"event\":\"user.agreement-key.created\""), std::string::npos);
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  const RunResult s = sign("ops", "alice", "a.sig", "x");  // the new password
  ASSERT_EQ(s.code, 0) << s.err;
  export_public("ops", "ops.pem");
  EXPECT_EQ(verify("ops.pem", "a.sig").code, 0);
}

TEST_F(Group, BadInputFollowsTheFailureContract) {
  create_user("alice");
  create_user("bob");
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice,bob"}).code, 0);
  struct Row {
    std::string what;
    std::function<RunResult()> act;
    int code;
    std::string message;
  };
  const std::vector<Row> table = {
      {"wrong password", [&] { return sign("ops", "alice", "w.sig", "bob"); }, 3,
       "wrong password"},
      {"unknown group", [&] { return sign("nope", "alice", "u.sig"); }, 7,
       "group 'nope' not found"},
      {"unknown signer", [&] { return sign("ops", "zed", "z.sig"); }, 7, "user 'zed' not found"},
      {"unknown member on create",
       [&] { return run({"group", "create", "dev", "--members", "alice,zed"}); }, 7,
       "user 'zed' not found"},
      {"existing group", [&] { return run({"group", "create", "ops", "--members", "alice"}); }, 7,
       "group 'ops' already exists"},
      {"already a member",
       [&] { return run({"group", "add", "ops", "bob", "--as", "alice", "--password-source",
                         "env:PW_alice"}, {"alice"}); }, 7,
       "already a member"},
      {"remove a non-member", [&] { return run({"group", "remove", "ops", "zed"}); }, 7,
       "user 'zed' is not a member"},
      {"unknown group on show", [&] { return run({"group", "show", "nope"}); }, 7,
       "group 'nope' not found"},
      {"ed25519 group", [&] { return run({"group", "create", "ed", "--members", "alice",
                                          "--algo", "ed25519"}); }, 2,
       "unknown group key algorithm 'ed25519'"},
      {"no members", [&] { return run({"group", "create", "e", "--members", ""}); }, 2, ""},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.what);
    expect_failure(row.act(), row.code, row.message);
  }
  EXPECT_NE(transcript().find("\"event\":\"user.auth.failed\""), std::string::npos);
}

// A member's layer edited in the keystore file is refused before anything is unwrapped: the
// group's row no longer matches the state the transcript recorded (docs/design.md, "Keystore
// integrity"), before the layers' own AES-GCM binding (group, member and key version as
// associated data) is reached: that binding is what remains against someone who could also
// re-record the state, i.e. holds the PIN.
TEST_F(Group, TamperedMemberLayerIsAnIntegrityFailureNeverATokenError) {
  create_user("alice");
  create_user("bob");
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice,bob"}).code, 0);
  const std::string alice_layer = "user_id = (SELECT id FROM users WHERE name = 'alice')";
  struct Row {
    std::string what, sql;
    std::string message;
  };
  const std::vector<Row> table = {
      {"truncated layer",
       "UPDATE group_members SET sealed_key = substr(sealed_key, 1, 40) WHERE " + alice_layer,
       "group 'ops' in the keystore is not what the transcript recorded last"},
      {"bob's layer in alice's place",
       "UPDATE group_members SET sealed_key = (SELECT sealed_key FROM group_members, users u "
       "WHERE u.id = user_id AND u.name = 'bob') WHERE " + alice_layer,
       "group 'ops' in the keystore is not what the transcript recorded last"},
      {"other ephemeral key",
       "UPDATE group_members SET ephemeral_public_key = (SELECT ephemeral_public_key FROM "
       "group_members, users u WHERE u.id = user_id AND u.name = 'bob') WHERE " + alice_layer,
       "group 'ops' in the keystore is not what the transcript recorded last"},
      {"garbage ephemeral key",
       "UPDATE group_members SET ephemeral_public_key = X'3059' WHERE " + alice_layer, ""},
      {"short nonce", "UPDATE group_members SET nonce = X'00' WHERE " + alice_layer,
       "group 'ops' in the keystore is not what the transcript recorded last"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.what);
    const std::string backup = path("ks-" + std::to_string(&row - table.data()));
    ASSERT_EQ(sql(".backup '" + backup + "'").code, 0);
    ASSERT_EQ(sql(row.sql).code, 0);
    const RunResult r = sign("ops", "alice", "t.sig");
    expect_failure(r, 4, row.message);
    EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path("t.sig")));
    ASSERT_EQ(sql(".restore '" + backup + "'").code, 0);
  }
  // Untouched, bob still signs.
  EXPECT_EQ(sign("ops", "bob", "b.sig").code, 0);
}

}  // namespace
}  // namespace hsm::test
