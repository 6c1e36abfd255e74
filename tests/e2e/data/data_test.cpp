// data encrypt | decrypt and dek new | open against real SoftHSM tokens: a group of three, a
// file of several chunks encrypted with no PIN and no password available and decrypted by each
// member byte for byte; the DEK that dek open prints decrypts the file in Python from
// hsmctl-data(5) alone; a removal rotates the key and keeps the old version for the remaining
// members; every bad input exits as documented and writes nothing.
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Data : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    for (const std::string u : {"alice", "bob", "carol", "dave"}) create_user(u);
    const RunResult c = run({"group", "create", "payroll", "--purpose", "encrypt", "--members",
                             "alice,bob,carol", "--json"});
    ASSERT_EQ(c.code, 0) << c.err;
    EXPECT_EQ(c.json()["algorithm"], "ecdh-p256");
    // 3.5 MiB of varied bytes: three full chunks and a short final one.
    std::string content(3 * 1024 * 1024 + 512 * 1024, '\0');
    std::uint32_t x = 2463534242u;
    for (char& ch : content) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      ch = static_cast<char>(x);
    }
    plain_ = write_file("march.csv", content, 0644).string();
  }
  static std::string var_of(const std::string& name) { return "PW_" + name; }
  RunResult run(std::vector<std::string> args, const std::vector<std::string>& who = {}) {
    std::map<std::string, std::string> env;
    for (const auto& w : who) env[var_of(w)] = "password of " + w;
    return hsmctl(args, env);
  }
  void create_user(const std::string& name) {
    const RunResult r = run({"user", "create", name, "--kdf-profile", "min", "--password-source",
                             "env:" + var_of(name)}, {name});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // Encryption with no PIN and no password anywhere: the PIN source names an unset variable.
  RunResult encrypt(const std::string& group, const std::string& out,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"data", "encrypt", "--group", group, "--in", plain_,
                                  "--out", path(out), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args, {{"HSMCTL_PIN_SOURCE", "env:HSMCTL_NO_PIN_HERE"},
                         {"HSMCTL_TEST_PIN", "<unset>"}});
  }
  RunResult decrypt(const std::string& as, const std::string& in, const std::string& out,
                    const std::string& password_of = "") {
    const std::string pw = password_of.empty() ? as : password_of;
    return run({"data", "decrypt", "--as", as, "--in", path(in), "--out", path(out),
                "--password-source", "env:" + var_of(pw), "--json"}, {pw});
  }
  RunResult dek_open(const std::string& as, const std::string& in) {
    return run({"dek", "open", "--as", as, "--in", path(in), "--password-source",
                "env:" + var_of(as), "--json"}, {as});
  }
  std::string path(const std::string& name) { return (tmp_.path() / name).string(); }
  std::string transcript() { return read_file(ws_ / "transcript.jsonl"); }
  std::size_t count(const std::string& event) {
    const std::string t = transcript(), needle = "\"event\":\"" + event + "\"";
    std::size_t n = 0;
    for (auto p = t.find(needle); p != std::string::npos; p = t.find(needle, p + 1)) ++n;
    return n;
  }
  // No temp file of a refused output is left in the test directory.
  bool no_temp_files() {
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path()))
      if (e.path().extension() == ".tmp") return false;
    return true;
  }

  std::string plain_;
};

TEST_F(Data, EveryMemberDecryptsAFileEncryptedWithoutAnySecret) {
  const RunResult e = encrypt("payroll", "march.enc", {"--context", "table=salaries"});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.json()["chunks"], 4);
  EXPECT_EQ(e.json()["key_version"], 1);
  const std::string enc = read_file(path("march.enc"));
  EXPECT_EQ(enc.substr(0, 8), std::string("HSMCTLD\x01", 8));
  EXPECT_EQ(enc.find("march"), std::string::npos);  // no plaintext name or data in the clear
  for (const std::string as : {"alice", "bob", "carol"}) {
    SCOPED_TRACE(as);
    const RunResult d = decrypt(as, "march.enc", as + ".csv");
    ASSERT_EQ(d.code, 0) << d.err;
    EXPECT_EQ(d.json()["dek_id"], e.json()["dek_id"]);
    EXPECT_EQ(d.json()["context"]["table"], "salaries");
    EXPECT_TRUE(read_file(path(as + ".csv")) == read_file(plain_));
  }
  EXPECT_EQ(count("data.decrypted"), 3u);
  EXPECT_NE(transcript().find("\"dek_id\":\"" + e.json()["dek_id"].get<std::string>() + "\""),
            std::string::npos);
  const RunResult v = run({"transcript", "verify"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  const RunResult doc = run({"doctor"});
  EXPECT_EQ(doc.code, 0) << doc.out << doc.err;
}

TEST_F(Data, DekOpenGivesTheDekThatDecryptsTheDocumentedFormatInPython) {
  // dek new: the application gets the DEK and the wrapped DEK, no secret needed.
  const RunResult n = hsmctl({"dek", "new", "--group", "payroll", "--out", path("row.dek"),
                              "--context", "row=17", "--json"},
                             {{"HSMCTL_PIN_SOURCE", "env:HSMCTL_NO_PIN_HERE"},
                              {"HSMCTL_TEST_PIN", "<unset>"}});
  ASSERT_EQ(n.code, 0) << n.err;
  const std::string dek = n.json()["dek"];
  EXPECT_EQ(dek.size(), 64u);
  EXPECT_EQ(read_file(path("row.dek")).find(dek), std::string::npos);
  const RunResult o = dek_open("bob", "row.dek");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.json()["dek"], dek);
  EXPECT_EQ(o.json()["context"]["row"], "17");

  // The DEK of a data file decrypts it with Python's AES-GCM from the format page.
  ASSERT_EQ(encrypt("payroll", "march.enc", {"--context", "table=salaries"}).code, 0);
  const RunResult f = dek_open("carol", "march.enc");
  ASSERT_EQ(f.code, 0) << f.err;
  const RunResult py = run_program({"/usr/bin/python3",
                                    std::string(HSMCTL_SOURCE_DIR) +
                                        "/tests/e2e/data/decrypt_data_file.py",
                                    path("march.enc"), f.json()["dek"], path("py.csv")});
  ASSERT_EQ(py.code, 0) << py.out << py.err;
  EXPECT_TRUE(read_file(path("py.csv")) == read_file(plain_));
  EXPECT_EQ(count("dek.opened"), 2u);
  EXPECT_EQ(transcript().find(dek), std::string::npos);  // never the DEK itself
  EXPECT_EQ(run({"transcript", "verify"}).code, 0);
}

TEST_F(Data, BadInputFollowsTheFailureContractAndWritesNothing) {
  ASSERT_EQ(encrypt("payroll", "m.enc", {"--context", "table=salaries"}).code, 0);
  ASSERT_EQ(run({"group", "create", "ops", "--members", "alice"}).code, 0);
  ASSERT_EQ(run({"group", "create", "payrol1", "--members", "alice"}).code, 0);  // signing
  const std::string good = read_file(path("m.enc"));
  const std::size_t header_end = 12 + ((static_cast<unsigned char>(good[10]) << 8) |
                                       static_cast<unsigned char>(good[11]));
  const std::size_t record = 1024 * 1024 + 16;
  // A copy of m.enc changed by `change`, as FILE.
  const auto tampered = [&](const std::string& name, const std::function<void(std::string&)>& change) {
    std::string s = good;
    change(s);
    write_file(name, s, 0644);
    return name;
  };
  const auto after = [&](std::string& s, const std::string& what) {
    const auto p = s.find(what);
    EXPECT_NE(p, std::string::npos) << what;
    return p + what.size();
  };
  const auto flip = [](std::string& s, std::size_t at) { s[at] = static_cast<char>(s[at] ^ 1); };
  // Flips a hex or base64 character into another of its alphabet.
  const auto swap_char = [](std::string& s, std::size_t at) { s[at] = s[at] == 'a' ? 'b' : 'a'; };
  struct Row {
    std::string what;
    std::function<RunResult()> act;
    int code;
    std::string message;
  };
  const std::vector<Row> table = {
      {"wrong password", [&] { return decrypt("alice", "m.enc", "o1", "bob"); }, 3,
       "wrong password"},
      {"not a member", [&] { return decrypt("dave", "m.enc", "o2"); }, 3,
       "user 'dave' is not a member of group 'payroll'"},
      {"tampered header (dek id)",
       [&] { return decrypt("alice", tampered("h.enc", [&](std::string& s) {
                              swap_char(s, after(s, "\"dek_id\":\"")); }), "o3"); }, 4,
       "the wrapped DEK does not unwrap"},
      {"tampered context",
       [&] { return decrypt("alice", tampered("c.enc", [&](std::string& s) {
                              s[after(s, "salarie")] = 'z'; }), "o4"); }, 4,
       "the wrapped DEK does not unwrap"},
      {"tampered wrapped DEK",
       [&] { return decrypt("alice", tampered("w.enc", [&](std::string& s) {
                              swap_char(s, after(s, "\"wrapped_dek\":\"") + 3); }), "o5"); }, 4,
       "the wrapped DEK does not unwrap"},
      {"tampered chunk",
       [&] { return decrypt("alice", tampered("k.enc", [&](std::string& s) {
                              flip(s, header_end + record + 100); }), "o6"); }, 4,
       "chunk 1 of"},
      {"truncated within a chunk",
       [&] { return decrypt("alice", tampered("t.enc", [&](std::string& s) {
                              s.resize(s.size() - 1000); }), "o7"); }, 4, "does not authenticate"},
      {"truncated at a chunk boundary",
       [&] { return decrypt("alice", tampered("b.enc", [&](std::string& s) {
                              s.resize(header_end + 2 * record); }), "o8"); }, 4,
       "chunk 2 of"},
      {"two chunks swapped",
       [&] { return decrypt("alice", tampered("s.enc", [&](std::string& s) {
                              const std::string a = s.substr(header_end, record);
                              s.replace(header_end, record, s.substr(header_end + record, record));
                              s.replace(header_end + record, record, a); }), "o9"); }, 4,
       "chunk 0 of"},
      {"not a data file", [&] { return decrypt("alice", "march.csv", "o10"); }, 4,
       "is not an hsmctl data file"},
      {"decrypt from a signing group",
       [&] { return decrypt("alice", tampered("g.enc", [&](std::string& s) {
                              s[after(s, "\"group\":\"payrol")] = '1'; }), "o11"); }, 2,
       "group 'payrol1' is a signing group"},
      {"decrypt from an unknown group",
       [&] { return decrypt("alice", tampered("u.enc", [&](std::string& s) {
                              s[after(s, "\"group\":\"payrol")] = 'x'; }), "o12"); }, 7,
       "group 'payrolx' not found"},
      {"existing --out on decrypt", [&] { return decrypt("alice", "m.enc", "m.enc"); }, 7,
       "already exists"},
      {"existing --out on encrypt", [&] { return encrypt("payroll", "m.enc"); }, 7,
       "already exists"},
      {"unknown group", [&] { return encrypt("nope", "n.enc"); }, 7, "group 'nope' not found"},
      {"encrypt to a signing group", [&] { return encrypt("ops", "n.enc"); }, 2,
       "group 'ops' is a signing group"},
      {"sign with an encryption group",
       [&] { return run({"group", "sign", "payroll", "--as", "alice", "--in", plain_, "--out",
                         path("p.sig"), "--password-source", "env:PW_alice"}, {"alice"}); }, 2,
       "group 'payroll' is an encryption group and cannot sign"},
      {"encryption group with another algorithm",
       [&] { return run({"group", "create", "x", "--purpose", "encrypt", "--members", "alice",
                         "--algo", "ec-p384"}); }, 2, "always ECDH P-256"},
      {"malformed context", [&] { return encrypt("payroll", "n.enc", {"--context", "novalue"}); },
       2, "must be KEY=VALUE"},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.what);
    expect_failure(row.act(), row.code, row.message);
  }
  for (const std::string o : {"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9", "o10", "o11",
                              "o12", "n.enc", "p.sig"})
    EXPECT_FALSE(std::filesystem::exists(path(o))) << o;
  EXPECT_TRUE(no_temp_files());
  EXPECT_GE(count("group.access.refused"), 1u);
  EXPECT_GE(count("user.auth.failed"), 1u);
  EXPECT_EQ(count("data.decrypted"), 0u);
  // Untouched, the file still decrypts.
  const RunResult d = decrypt("bob", "m.enc", "ok.csv");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_TRUE(read_file(path("ok.csv")) == read_file(plain_));
}

TEST_F(Data, AddedMemberDecryptsWithOnlyTheSponsorsPassword) {
  ASSERT_EQ(encrypt("payroll", "m.enc").code, 0);
  const RunResult add = run({"group", "add", "payroll", "dave", "--as", "alice",
                             "--password-source", "env:PW_alice"}, {"alice"});
  ASSERT_EQ(add.code, 0) << add.err;
  const RunResult d = decrypt("dave", "m.enc", "dave.csv");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_TRUE(read_file(path("dave.csv")) == read_file(plain_));
}

TEST_F(Data, RemovalRotatesAndTheOldVersionStaysReadableByTheRemainingMembersOnly) {
  ASSERT_EQ(encrypt("payroll", "v1.enc").code, 0);
  const RunResult rm = run({"group", "remove", "payroll", "bob", "--json"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.json()["key_version"], 2);
  const RunResult e2 = encrypt("payroll", "v2.enc");
  ASSERT_EQ(e2.code, 0) << e2.err;
  EXPECT_EQ(e2.json()["key_version"], 2);
  for (const std::string as : {"alice", "carol"})
    for (const std::string v : {"v1", "v2"}) {
      SCOPED_TRACE(as + " " + v);
      const RunResult d = decrypt(as, v + ".enc", as + "-" + v + ".csv");
      ASSERT_EQ(d.code, 0) << d.err;
      EXPECT_EQ(d.json()["key_version"], v == "v1" ? 1 : 2);
      EXPECT_TRUE(read_file(path(as + "-" + v + ".csv")) == read_file(plain_));
    }
  // bob is out: of the new version, and of the old one (his layers of it are gone).
  expect_failure(decrypt("bob", "v2.enc", "bob2.csv"), 3, "is not a member of group 'payroll'");
  expect_failure(decrypt("bob", "v1.enc", "bob1.csv"), 3, "is not a member of group 'payroll'");
  // dave, added after the rotation, reads the new version and, sealed to him by carol at the
  // add, the old one (tests/e2e/data/data_versions_test.cpp).
  ASSERT_EQ(run({"group", "add", "payroll", "dave", "--as", "carol", "--password-source",
                 "env:PW_carol"}, {"carol"}).code, 0);
  ASSERT_EQ(decrypt("dave", "v2.enc", "dave2.csv").code, 0);
  ASSERT_EQ(decrypt("dave", "v1.enc", "dave1.csv").code, 0);
  for (const std::string o : {"bob1.csv", "bob2.csv"})
    EXPECT_FALSE(std::filesystem::exists(path(o))) << o;
  EXPECT_EQ(run({"transcript", "verify"}).code, 0);
  const RunResult doc = run({"doctor"});
  EXPECT_EQ(doc.code, 0) << doc.out << doc.err;
  // The kept version is part of the group's state row: an old layer edited is refused.
  const RunResult edit = run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(),
                                      "UPDATE group_old_layers SET nonce = X'00'"});
  ASSERT_EQ(edit.code, 0) << edit.err;
  expect_failure(decrypt("alice", "v1.enc", "edited.csv"), 4,
                 "group 'payroll' in the keystore is not what the transcript recorded last");
}

}  // namespace
}  // namespace hsm::test
