// user provision against real SoftHSM tokens: CSV (quoted fields) and JSONL, a bad row named
// by its line, resumable reruns, --jobs 2 worker processes whose users sign (checked with
// openssl), the transcript verified, refused file modes, and no password anywhere.
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Provision : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    data_ = write_file("data.txt", "payroll batch 7\n", 0644).string();
  }
  RunResult provision(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"user", "provision", "--from", file, "--kdf-profile", "min"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  // Signs data_ as `name` with `password` and verifies the signature with openssl.
  void expect_signs(const std::string& name, const std::string& password) {
    SCOPED_TRACE(name);
    const std::string sig = (tmp_.path() / (name + ".sig")).string();
    const std::string pem = (tmp_.path() / (name + ".pem")).string();
    const RunResult s = hsmctl({"user", "sign", name, "--in", data_, "--out", sig,
                                "--password-source", "env:PW"}, {{"PW", password}});
    ASSERT_EQ(s.code, 0) << s.err;
    ASSERT_EQ(hsmctl({"user", "export-public", name, "--out", pem}).code, 0);
    const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature", sig, data_});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::size_t pos = 0, nl;
    while ((nl = out.find('\n', pos)) != std::string::npos) {
      v.push_back(nlohmann::json::parse(out.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    return v;
  }
  std::string everything_stored() {
    return read_file(ws_ / "transcript.jsonl") + read_file(ws_ / "keystore.sqlite") +
           (std::filesystem::exists(ws_ / "keystore.sqlite-wal")
                ? read_file(ws_ / "keystore.sqlite-wal") : "");
  }
  std::string data_;
};

TEST_F(Provision, CsvWithQuotedFieldsCreatesUsersWhoSign) {
  const std::string csv =
      "name,password,algo\r\n"
      "alice,\"pw, with a comma\",p256\r\n"
      "bob,\"he said \"\"hi\"\"\",\r\n"
      "\"carol\",\"two, \"\"quoted\"\", parts\",p384\n";
  const auto file = write_file("staff.csv", csv);
  const RunResult r = provision(file.string(), {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines.back()["summary"]["created"], 3);
  const nlohmann::json carol = hsmctl({"user", "show", "carol", "--json"}).json();
  EXPECT_EQ(carol["algorithm"], "p384");
  EXPECT_EQ(hsmctl({"user", "show", "bob", "--json"}).json()["algorithm"], "p256");
  expect_signs("alice", "pw, with a comma");
  expect_signs("bob", "he said \"hi\"");
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(Provision, JsonlBadRowIsNamedByLineOthersAreCreatedAndRerunSkips) {
  const std::string jsonl =
      "{\"name\":\"dave\",\"password\":\"dave-secret-1\"}\n"
      "\n"
      "{\"name\":\"-bad\",\"password\":\"bad-secret-2\"}\n"
      "{\"name\":\"erin\",\"password\":\"erin-secret-3\",\"algo\":\"rsa3072\"}\n"
      "not json at all\n";
  const auto file = write_file("staff.jsonl", jsonl);
  const RunResult r = provision(file.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 3: user name '-bad'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 5: not a JSON object"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hsmctl: error: 2 of 4 rows failed (line 3, 5)"), std::string::npos) << r.err;
  EXPECT_EQ(hsmctl({"user", "show", "dave"}).code, 0);
  EXPECT_EQ(hsmctl({"user", "show", "erin", "--json"}).json()["algorithm"], "rsa3072");

  // Fixed file: the two existing users are skipped, the fixed row is created.
  const auto fixed = write_file("fixed.jsonl",
      "{\"name\":\"dave\",\"password\":\"dave-secret-1\"}\n"
      "{\"name\":\"frank\",\"password\":\"frank-secret-4\"}\n"
      "{\"name\":\"erin\",\"password\":\"erin-secret-3\",\"algo\":\"rsa3072\"}\n");
  const RunResult again = provision(fixed.string(), {"--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  std::map<std::string, std::string> status;
  for (const auto& j : json_lines(again.out))
    if (j.contains("name")) status[j["name"]] = j["status"];
  EXPECT_EQ(status["dave"], "skipped");
  EXPECT_EQ(status["erin"], "skipped");
  EXPECT_EQ(status["frank"], "created");
  expect_signs("frank", "frank-secret-4");
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"event\":\"user.provision.rejected\""), std::string::npos);
  EXPECT_NE(t.find("\"event\":\"user.provision.skipped\""), std::string::npos);
  ASSERT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

TEST_F(Provision, ProvisionedUsersJoinGroupsOnceTheyHaveGivenTheirPassword) {
  // provision makes only the signing key; the key-agreement key that group keys are sealed to
  // is made, and recorded, the first time the user gives their password.
  const auto file = write_file("pat.csv", "name,password\npat,pat-password-1\nquinn,quinn-password-2\n", 0600);
  ASSERT_EQ(provision(file.string()).code, 0);
  const RunResult early = hsmctl({"group", "create", "ops", "--members", "pat,quinn"});
  EXPECT_EQ(early.code, 1);
  EXPECT_NE(early.err.find("user 'pat' has no key-agreement key yet (users made by 'user "
                           "provision'"), std::string::npos) << early.err;
  expect_signs("pat", "pat-password-1");
  expect_signs("quinn", "quinn-password-2");
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("\"event\":\"user.agreement-key.created\""),
            std::string::npos);
  const RunResult made = hsmctl({"group", "create", "ops", "--members", "pat,quinn"});
  ASSERT_EQ(made.code, 0) << made.err;
  const std::string sig = (tmp_.path() / "ops.sig").string();
  const RunResult g = hsmctl({"group", "sign", "ops", "--as", "quinn", "--in", data_, "--out", sig,
                              "--password-source", "env:PW"}, {{"PW", "quinn-password-2"}});
  ASSERT_EQ(g.code, 0) << g.err;
  const std::string pem = (tmp_.path() / "ops.pem").string();
  ASSERT_EQ(hsmctl({"group", "export-public", "ops", "--out", pem}).code, 0);
  const RunResult v = openssl({"dgst", "-sha256", "-verify", pem, "-signature", sig, data_});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_EQ(hsmctl({"transcript", "verify", "--strict"}).code, 0);
}

// Chunks are cut by the size of their entry, state rows included: 700 users with long names
// in one ceremony make entries near the 64 KiB a log entry can hold, never over it.
TEST_F(Provision, LargeChunksStayWithinTheEntryLimit) {
  std::string csv = "name,password\n";
  const std::string pad(40, 'n');
  for (int i = 0; i < 700; ++i) csv += "u" + std::to_string(i) + pad + ",password-of-user-" + std::to_string(i) + "\n";
  const auto file = write_file("large.csv", csv, 0400);
  const RunResult r = provision(file.string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t longest = 0, chunks = 0;
  std::istringstream t(read_file(ws_ / "transcript.jsonl"));
  for (std::string line; std::getline(t, line);)
    if (line.find("\"event\":\"user.provisioned\"") != std::string::npos) {
      longest = std::max(longest, line.size());
      ++chunks;
    }
  EXPECT_GE(chunks, 2u);
  EXPECT_GT(longest, 40000u);  // the cut is near the limit, not far below it
  EXPECT_LE(longest, 65535u);
  EXPECT_EQ(hsmctl({"doctor", "--offline"}).code, 0);
}

TEST_F(Provision, TwoJobsCreateEveryUserInOneCeremonyAndNoPasswordLeaks) {
  std::string csv = "name,password\n";
  for (int i = 0; i < 40; ++i) csv += "user" + std::to_string(i) + ",Pw-long-sekrit-" + std::to_string(i * 7919) + "\n";
  const auto file = write_file("many.csv", csv, 0400);
  const RunResult r = provision(file.string(), {"--jobs", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 41u);
  EXPECT_EQ(lines.back()["summary"]["created"], 40);
  EXPECT_EQ(lines.back()["summary"]["jobs"], 2);
  const nlohmann::json listed = hsmctl({"user", "list", "--json"}).json();
  EXPECT_EQ(listed["users"].size(), 40u);
  for (int i : {0, 1, 38, 39}) expect_signs("user" + std::to_string(i), "Pw-long-sekrit-" + std::to_string(i * 7919));

  // One ceremony: every provisioned event carries the same ceremony id, and all 40 names.
  std::set<std::string> ceremonies, names;
  std::istringstream t(read_file(ws_ / "transcript.jsonl"));
  for (std::string line; std::getline(t, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e["event"] != "user.provisioned") continue;
    ceremonies.insert(e["ceremony"].get<std::string>());
    for (const auto& u : e["data"]["users"]) names.insert(u["name"].get<std::string>());
  }
  EXPECT_EQ(ceremonies.size(), 1u);
  EXPECT_EQ(*ceremonies.begin(), lines.back()["summary"]["ceremony"]);
  EXPECT_EQ(names.size(), 40u);
  const RunResult v = hsmctl({"transcript", "verify", "--strict"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  const std::string stored = everything_stored();
  for (const std::string& where : {stored, r.out, r.err})
    EXPECT_EQ(where.find("Pw-long-sekrit-"), std::string::npos);
}

TEST_F(Provision, FilesOthersCanReadAreRefused) {
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u}) {
    SCOPED_TRACE(mode);
    const auto file = write_file("open" + std::to_string(mode) + ".csv", "name,password\nx,y\n", mode);
    expect_failure(provision(file.string()), 1, "holds passwords but group or others have access");
  }
  expect_failure(hsmctl({"user", "show", "x"}), 7, "not found");
}

TEST_F(Provision, BadFilesAndOptionsAreRefusedBeforeAnyWork) {
  struct Row { std::string name, content; std::vector<std::string> extra; int code; std::string needle; };
  const std::vector<Row> table = {
      {"a.txt", "name,password\nx,y\n", {}, 2, "add --format csv or --format jsonl"},
      {"b.csv", "name,secret\nx,y\n", {}, 2, "header column 'secret' is unknown"},
      {"c.csv", "name,password\nx,y\n", {"--jobs", "0"}, 2, "--jobs 0 is out of range"},
      {"d.csv", "name,password\nx,y\n", {"--kdf-profile", "fast"}, 2, "fast"},
      {"e.csv", "name,password,groups\nx,y,ops;-bad\n", {}, 1, "line 2: group name '-bad' must"},
      {"g.csv", "name,password\nx,y\n", {"--group-algo", "ed25519"}, 2, "ed25519"},
      {"h.jsonl", "{\"name\":\"x\",\"password\":\"y\",\"groups\":[\"ops\",5]}\n", {}, 1,
       "line 1: needs string fields name and password (optionally algo, and groups as a string "
       "or an array of strings); field 'groups' is wrong"},
      {"f.csv", "name,password\nx,\"y\n", {}, 1, "line 2: a quoted field is not closed"},
  };
  for (const Row& row : table) {
    SCOPED_TRACE(row.name);
    const auto file = write_file(row.name, row.content);
    std::vector<std::string> args{"user", "provision", "--from", file.string()};
    args.insert(args.end(), row.extra.begin(), row.extra.end());
    const RunResult r = hsmctl(args);
    EXPECT_EQ(r.code, row.code) << r.err;
    EXPECT_NE(r.err.find(row.needle), std::string::npos) << r.err;
  }
  expect_failure(hsmctl({"user", "provision", "--from", (tmp_.path() / "none.csv").string()}), 7,
                 "cannot open");
}

// On a terminal a batch that runs past a second draws a progress bar on stderr; piped, nothing.
TEST_F(Provision, AProgressBarOnlyOnATerminalAndOnlyPastASecond) {
  std::string csv = "name,password\n";
  // "moderate" Argon2id (256 MiB, 3 passes) takes 0.3-1 s a user: 4 users run past a second on
  // any machine this runs on.
  for (int i = 0; i < 4; ++i) csv += "p" + std::to_string(i) + ",password number " + std::to_string(i) + "\n";
  const std::string file = write_file("batch.csv", csv).string();
  const std::string cmd = std::string(HSMCTL_BINARY) + " user provision --from " + file +
                          " --kdf-profile moderate --jobs 1";
  const RunResult tty = run_program({"/usr/bin/script", "-qec", cmd, "/dev/null"}, base_env());
  ASSERT_EQ(tty.code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("users ["), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("] 4/4"), std::string::npos) << tty.out;

  std::string quick = "name,password\nq0,a quick one long enough\n";
  const RunResult piped = provision(write_file("quick.csv", quick).string());
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(piped.err.find("["), std::string::npos) << piped.err;
  const RunResult short_tty = run_program(
      {"/usr/bin/script", "-qec", std::string(HSMCTL_BINARY) + " user provision --from " +
                                      write_file("quick2.csv", "name,password\nq1,quick too long enough\n").string() +
                                      " --kdf-profile min", "/dev/null"}, base_env());
  ASSERT_EQ(short_tty.code, 0) << short_tty.out;
  EXPECT_EQ(short_tty.out.find("users ["), std::string::npos) << "a run under a second drew a bar";
}

}  // namespace
}  // namespace hsm::test
