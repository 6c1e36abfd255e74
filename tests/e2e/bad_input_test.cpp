// The failure contract in one table: each bad input (wrong PIN, password or code, short,
// repeated, foreign or mistyped shares, tampered key, backup or transcript, existing output,
// missing or broken module, unknown key, bad option values, names and rows with control
// characters, weak passwords, someone else's secret file) must give its exit code, exactly one
// "hsmctl: error:" line naming the cause, no raw control character in any output, no output
// file, and, once a ceremony began, a failure event in the transcript.
#include <unistd.h>

#include <functional>
#include <optional>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

const std::string kBadInputPw = "bad-input password";

class BadInput : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares_).code, 0);
    // A foreign share set: another master on another token.
    hsm_.init_token("other");
    const fs::path other = tmp_.path() / "other-shares";
    make_private_dir(other);
    ASSERT_EQ(hsmctl({"--token", "other", "--dir", (tmp_.path() / "other-ws").string(), "master",
                      "init", "--threshold", "2", "--custodians", "x,y", "--shares-out",
                      other.string()}).code, 0);
    foreign_ = read_file(other / "x.share");
    ASSERT_EQ(hsmctl({"key", "generate", "signer", "--algo", "ec-p256", "--purpose", "code"}).code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "q", "--algo", "ec-p256", "--purpose", "code",
                      "--quorum", "2", "--shares-file", shares({"a", "b"})}).code, 0);
    ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", kBadInputPw}}).code, 0);
    ASSERT_EQ(hsmctl({"user", "create", "bob", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", kBadInputPw}}).code, 0);
    ASSERT_EQ(hsmctl({"user", "otp-enroll", "bob", "--password-source", "env:PW", "--show-secret"},
                     {{"PW", kBadInputPw}}).code, 0);
    backup_ = (tmp_.path() / "good.backup").string();
    ASSERT_EQ(hsmctl({"backup", "create", "--out", backup_, "--shares-file", shares({"a", "b"})})
                  .code, 0);
    data_ = write_file("data.txt", "bad input\n", 0644).string();
  }
  std::string share(const std::string& who) { return read_file(shares_ / (who + ".share")); }
  // A 0600 file with the given custodians' shares (and `extra` lines), one a line.
  std::string shares(const std::vector<std::string>& who, const std::string& extra = "") {
    std::string content;
    for (const auto& w : who) content += share(w);
    return write_file("in-" + std::to_string(++files_), content + extra).string();
  }
  std::string out(const std::string& name) { return (tmp_.path() / ("out-" + name)).string(); }
  // The transcript and pending failures together: where a failure must be recorded.
  std::string records() {
    std::string all = read_file(ws_ / "transcript.jsonl");
    if (fs::exists(ws_ / "transcript.pending.jsonl")) all += read_file(ws_ / "transcript.pending.jsonl");
    return all;
  }
  RunResult sql(const std::string& statement) {
    return run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(), statement});
  }

  // A provisioning file (0600, the caller's).
  std::string rows_file(const std::string& name, const std::string& content) {
    return write_file(name, content).string();
  }
  static std::string faultshim() {
    return (fs::path(HSMCTL_BINARY).parent_path() / "tests" / "faultshim" / "hsmfaultshim.so")
        .string();
  }

  fs::path shares_;
  std::string foreign_, backup_, data_, foreign_pw_;
  int files_ = 0;
};

struct BadRow {
  std::string what;
  std::function<std::vector<std::string>()> args;  // built when the row runs (after `setup`)
  std::map<std::string, std::string> env;
  int code;
  std::string needle;
  std::string out;   // the --out that must not appear ("" when the command writes none)
  bool began;        // a ceremony began: its failure must be recorded
  std::function<void()> setup = {};
  std::string event = {};  // the failure event recorded instead of a failed ceremony.end
  bool names_rv = false;   // the message quotes a module's return code (CKR_...) on purpose
};

TEST_F(BadInput, EveryBadInputFailsWithItsCodeOneLineNoOutputAndARecord) {
  const std::map<std::string, std::string> pw{{"PW", kBadInputPw}};
  const std::string alice = share("a");
  std::string mistyped = alice;
  {  // the 7th word replaced by another valid word: the RS1024 checksum fails
    size_t start = 0;
    for (int i = 0; i < 6; ++i) start = mistyped.find(' ', start) + 1;
    const size_t end = mistyped.find(' ', start);
    const std::string word = mistyped.substr(start, end - start);
    mistyped.replace(start, end - start, word == "academic" ? "acid" : "academic");
  }
  const std::string existing = write_file("existing.sig", "keep me\n").string();
  std::string tampered_transcript;
  const std::vector<BadRow> table = {
      {"wrong PIN", [&] { return std::vector<std::string>{"sign", "file", "--key", "signer", "--in", data_, "--out", out("pin")}; },
       {{"HSMCTL_TEST_PIN", "0000-wrong"}}, 3, "wrong PIN", out("pin"), true},
      {"wrong password", [&] { return std::vector<std::string>{"user", "sign", "alice", "--in", data_, "--out", out("pw"), "--password-source", "env:PW"}; },
       {{"PW", "not the password"}}, 3, "wrong password", out("pw"), true},
      {"wrong one-time code", [&] { return std::vector<std::string>{"user", "sign", "bob", "--in", data_, "--out", out("otp"), "--password-source", "env:PW", "--otp", "000000"}; },
       pw, 3, "wrong one-time code", out("otp"), true},
      {"M-1 shares", [&] { return std::vector<std::string>{"backup", "create", "--out", out("m1"), "--shares-file", shares({"a"})}; },
       {}, 5, "1 more needed", out("m1"), true},
      {"duplicate share", [&] { return std::vector<std::string>{"backup", "create", "--out", out("dup"), "--shares-file", shares({"a", "a"})}; },
       {}, 4, "gave a share twice", out("dup"), true},
      {"share of a foreign set", [&] { return std::vector<std::string>{"backup", "create", "--out", out("foreign"), "--shares-file", shares({"b"}, foreign_)}; },
       {}, 4, "another share set", out("foreign"), true},
      {"mistyped share word (checksum)", [&] { return std::vector<std::string>{"backup", "create", "--out", out("typo"), "--shares-file", shares({"b"}, mistyped)}; },
       {}, 4, "word 7 is most likely wrong", out("typo"), true},
      {"tampered wrapped key in the keystore",
       [&] { return std::vector<std::string>{"sign", "file", "--key", "q", "--in", data_, "--out", out("blob"), "--shares-file", shares({"a", "b"})}; },
       {}, 4, "key 'q' in the keystore is not what the transcript recorded last", out("blob"), true,
       [&] { ASSERT_EQ(sql("UPDATE keys SET wrapped_key = substr(wrapped_key, 1, 20) || CASE WHEN substr(wrapped_key, 21, 1) = X'00' THEN X'01' ELSE X'00' END || substr(wrapped_key, 22) WHERE label = 'q'").code, 0); }},
      {"tampered backup", [&] { return std::vector<std::string>{"backup", "restore", (tmp_.path() / "bad.backup").string(), "--shares-file", shares({"a", "b"})}; },
       {}, 4, "the backup file", "", true,
       [&] {
         std::string b = read_file(backup_);
         b[b.size() / 2] = static_cast<char>(b[b.size() / 2] ^ 0x01);
         write_file("bad.backup", b);
       }},
      {"tampered transcript line", [&] { return std::vector<std::string>{"transcript", "verify", tampered_transcript}; },
       {}, 4, "fails at seq 3", "", false,
       [&] {
         std::string t = read_file(ws_ / "transcript.jsonl");
         size_t line = 0;
         for (int i = 0; i < 3; ++i) line = t.find('\n', line) + 1;
         const size_t at = t.find("\"time\":\"", line) + 9;
         t[at] = t[at] == '1' ? '2' : '1';  // the year of entry 3
         tampered_transcript = write_file("tampered.jsonl", t).string();
       }},
      {"transcript export over an existing file", [&] { return std::vector<std::string>{"transcript", "export", "--out", existing}; },
       {}, 7, "already exists", "", false},
      {"transcript export of a workspace without a transcript", [&] { return std::vector<std::string>{"--dir", (tmp_.path() / "empty-ws").string(), "transcript", "export", "--out", out("export")}; },
       {}, 7, "has no transcript yet", out("export"), false,
       [&] {
         fs::create_directories(tmp_.path() / "empty-ws");
         write_file("empty-ws/keystore.sqlite", "");
       }},
      {"transcript join without a PostgreSQL store", [&] { return std::vector<std::string>{"transcript", "join"}; },
       {}, 2, "needs a PostgreSQL store", "", false},
      // The directory it would have made is not left behind (nor its lock file).
      {"transcript join with a store that cannot be reached", [&] { return std::vector<std::string>{"--dir", out("node"), "--store", "postgresql:///hsmctl?host=" + out("no-server"), "transcript", "join"}; },
       {}, 6, "is not reachable", out("node"), false},
      {"--head of 4 hex digits", [&] { return std::vector<std::string>{"transcript", "verify", "--head", "00ff"}; },
       {}, 2, "64 hex digits", "", false},
      {"--head that is not hex", [&] { return std::vector<std::string>{"transcript", "verify", "--head", "zzzz"}; },
       {}, 2, "64 hex digits", "", false},
      {"--head shortened to 16 hex digits", [&] { return std::vector<std::string>{"transcript", "verify", "--strict", "--head", read_file(ws_ / "transcript.jsonl").substr(read_file(ws_ / "transcript.jsonl").rfind("\"hash\":\"") + 8, 16)}; },
       {}, 2, "'hsmctl transcript head'", "", false},
      {"witness URL that is not http", [&] { return std::vector<std::string>{"transcript", "checkpoint", "--witness", "ftp://w1.example.org", "--witness-key", "w1.vkey", "--out", out("wurl")}; },
       {}, 2, "is not an http:// or https:// URL", out("wurl"), false},
      {"witness without its key", [&] { return std::vector<std::string>{"transcript", "checkpoint", "--witness", "http://127.0.0.1:9", "--out", out("wkey")}; },
       {}, 2, "give one --witness-key for each --witness", out("wkey"), false},
      {"witness serve address without a port", [&] { return std::vector<std::string>{"--dir", out("wdir"), "witness", "serve", "--listen", "localhost", "--log-key", "log.vkey"}; },
       {}, 2, "--listen 'localhost' is not HOST:PORT", "", false},
      {"serve with no worker", [&] { return std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--tls-cert", data_, "--tls-key", data_, "--client-ca", data_, "--workers", "0"}; },
       {}, 2, "--workers 0 is out of range: give 1 to 64", "", false},
      {"serve with a missing client CA", [&] { return std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--tls-cert", data_, "--tls-key", data_, "--client-ca", out("no-ca")}; },
       {}, 7, "--client-ca '" + out("no-ca") + "' does not exist", "", false},
      {"serve with a client CA that is no certificate", [&] { return std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--tls-cert", data_, "--tls-key", data_, "--client-ca", data_}; },
       {}, 2, "holds no PEM certificate", "", false},
      {"existing output file", [&] { return std::vector<std::string>{"sign", "file", "--key", "signer", "--in", data_, "--out", existing}; },
       {}, 7, "already exists", "", false},  // refused before the ceremony begins
      {"missing module", [&] { return std::vector<std::string>{"--module", "/nonexistent/libpkcs11.so", "sign", "file", "--key", "signer", "--in", data_, "--out", out("mod")}; },
       {}, 6, "/nonexistent/libpkcs11.so", out("mod"), true},  // recorded as pending
      {"unknown key", [&] { return std::vector<std::string>{"sign", "file", "--key", "nokey", "--in", data_, "--out", out("nokey")}; },
       {}, 7, "nokey", out("nokey"), true},
      {"unknown algorithm", [&] { return std::vector<std::string>{"user", "create", "carol", "--algo", "p999", "--password-source", "env:PW"}; },
       pw, 2, "p999", "", false},
      {"threshold not a number", [&] { return std::vector<std::string>{"master", "init", "--threshold", "two", "--custodians", "a,b", "--shares-out", out("th")}; },
       {}, 2, "--threshold", out("th"), false},
      {"unknown KDF profile", [&] { return std::vector<std::string>{"user", "create", "carol", "--kdf-profile", "huge", "--password-source", "env:PW"}; },
       pw, 2, "huge", "", false},
      {"token init --slot neither an id nor a URI", [&] { return std::vector<std::string>{"token", "init", "--label", "x", "--slot", "first"}; },
       {}, 2, "--slot 'first' is neither a decimal slot id nor a pkcs11: URI", "", false},
      {"token init --slot that has no token", [&] { return std::vector<std::string>{"token", "init", "--label", "x", "--slot", "4242", "--so-pin-source", "env:PW"}; },
       pw, 7, "no slot 4242 with a token", "", false},
      {"token init re-initialising unconfirmed", [&] { return std::vector<std::string>{"token", "init", "--label", "x", "--slot", std::to_string(hsm_.slot_of("test")), "--so-pin-source", "env:PW"}; },
       pw, 2, "destroys every object on it: confirm at a terminal, or add --yes", "", false},
      {"--token URI naming an object", [&] { return std::vector<std::string>{"--token", "pkcs11:token=test;object=signer", "sign", "file", "--key", "signer", "--in", data_, "--out", out("uriobj")}; },
       {}, 2, "names an object ('object')", out("uriobj"), true},  // the token is chosen in the ceremony
      {"bad secret source", [&] { return std::vector<std::string>{"--pin-source", "argv:1234", "token", "objects"}; },
       {}, 2, "a secret source is", "", false},
      {"unknown option", [&] { return std::vector<std::string>{"sign", "file", "--key", "signer", "--in", data_, "--out", out("opt"), "--colour"}; },
       {}, 2, "--colour", out("opt"), false},
      // Input hygiene (issue 24): names, rows and passwords that could hide text or lock a user out.
      {"--actor with an escape sequence", [&] { return std::vector<std::string>{"--actor", "x\x1b[8my", "sign", "file", "--key", "signer", "--in", data_, "--out", out("actor")}; },
       {}, 2, "--actor 'x\\x1b[8my' must be", out("actor"), false},
      {"user name with an escape sequence", [&] { return std::vector<std::string>{"user", "create", "ev\x1b]0;owned\x07il", "--password-source", "env:PW"}; },
       pw, 2, "user name 'ev\\x1b]0;owned\\x07il' must be", "", false},
      {"CSV row with an escape sequence in the name", [&] { return std::vector<std::string>{"user", "provision", "--from", rows_file("esc.csv", "name,password\nev\x1b[2Jil,a long enough password\n")}; },
       {}, 1, "line 2: user name 'ev\\x1b[2Jil' must be", "", true, {}, "user.provision.rejected"},
      {"JSONL row with a repeated key", [&] { return std::vector<std::string>{"user", "provision", "--from", rows_file("dup.jsonl", R"({"name":"carol","password":"first long password","password":"second long password"})" "\n")}; },
       {}, 1, "line 1: field 'password' appears more than once", "", true, {}, "user.provision.rejected"},
      {"CSV password with a line feed", [&] { return std::vector<std::string>{"user", "provision", "--from", rows_file("lf.csv", "name,password\ncarol,\"first line\nsecond line\"\n")}; },
       {}, 1, "line 2: the password of user 'carol' contains a control character", "", true, {}, "user.provision.rejected"},
      {"short password in a provisioning row", [&] { return std::vector<std::string>{"user", "provision", "--from", rows_file("short.csv", "name,password\ncarol,abc\n")}; },
       {}, 1, "line 2: the password of user 'carol' is shorter than 12 characters", "", true, {}, "user.provision.rejected"},
      {"password with a control character", [&] { return std::vector<std::string>{"user", "create", "carol", "--password-source", "env:PW"}; },
       {{"PW", "a long password\x1b[8m"}}, 2, "contains a control character", "", false},
      {"short password", [&] { return std::vector<std::string>{"user", "create", "carol", "--password-source", "env:PW"}; },
       {{"PW", "abc"}}, 2, "is shorter than 12 characters", "", false},
      {"password that is the user's name", [&] { return std::vector<std::string>{"user", "create", "carolinecarol", "--password-source", "env:PW"}; },
       {{"PW", "CarolineCarol"}}, 2, "is the user's own name", "", false},
      {"short new password", [&] { return std::vector<std::string>{"user", "passwd", "alice", "--password-source", "env:PW", "--new-password-source", "env:PW2"}; },
       {{"PW", kBadInputPw}, {"PW2", "short"}}, 2, "is shorter than 12 characters", "", true},
      {"wrong one-time code from --otp-source", [&] { return std::vector<std::string>{"user", "sign", "bob", "--in", data_, "--out", out("otps"), "--password-source", "env:PW", "--otp-source", "env:OTP"}; },
       {{"PW", kBadInputPw}, {"OTP", "000000"}}, 3, "wrong one-time code", out("otps"), true},
      {"secret file of another user", [&] { return std::vector<std::string>{"user", "create", "carol", "--password-source", "file:" + foreign_pw_}; },
       {}, 1, "belongs to uid 65534, not to you", "", false,
       [&] {
         foreign_pw_ = write_file("foreign.pw", kBadInputPw + "\n").string();
         ASSERT_EQ(::chown(foreign_pw_.c_str(), 65534, 65534), 0) << "the e2e tests run as root";
       }},
      {"module failing in C_GetFunctionList", [&] { return std::vector<std::string>{"--module", faultshim(), "sign", "file", "--key", "signer", "--in", data_, "--out", out("gfl")}; },
       {{"FAULTSHIM_FUNCTION", "C_GetFunctionList"}, {"FAULTSHIM_RV", "CKR_GENERAL_ERROR"}, {"FAULTSHIM_MODULE", HSMCTL_SOFTHSM_MODULE}},
       6, "failed in C_GetFunctionList: it returned CKR_GENERAL_ERROR", out("gfl"), true, {}, "", true},
      {"Ed25519 key the token cannot wrap", [&] { return std::vector<std::string>{"key", "generate", "e", "--algo", "ed25519"}; },
       {}, 6, "refused C_WrapKey for the new ed25519 private key (CKR_KEY_NOT_WRAPPABLE)", "", true, {}, "", true},
      {"quorum request of a command with --shares-file", [&] { return std::vector<std::string>{"quorum", "request", "--request-dir", out("qdir"), "--", "backup", "create", "--out", out("qbk"), "--shares-file", shares({"a", "b"})}; },
       {}, 2, "remove --shares-file", out("qdir"), false},
      {"quorum request with a bad --expires", [&] { return std::vector<std::string>{"quorum", "request", "--request-dir", out("qdir2"), "--expires", "soon", "--", "backup", "create", "--out", out("qbk2")}; },
       {}, 2, "is not a duration", out("qdir2"), false},
      {"quorum approve of a file that is no request", [&] { return std::vector<std::string>{"quorum", "approve", data_, "--out", out("appr"), "--share-file", shares({"a"})}; },
       {}, 4, "is not an hsmctl quorum request", out("appr"), false},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.what);
    if (row.setup) row.setup();
    const std::string before = records();
    const RunResult r = hsmctl(row.args(), row.env);
    expect_failure(r, row.code, row.needle);
    if (!row.names_rv) {
      EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
    }
    if (!row.out.empty()) {
      EXPECT_FALSE(fs::exists(row.out)) << row.out;
    }
    const std::string after = records();
    if (row.began) {
      ASSERT_GT(after.size(), before.size());
      const std::string added = after.substr(before.size());
      if (!row.event.empty()) {
        EXPECT_NE(added.find("\"event\":\"" + row.event + "\""), std::string::npos) << added;
      } else {
        EXPECT_NE(added.find("\"outcome\":\"failure\""), std::string::npos) << added;
        EXPECT_NE(added.find("\"exit_code\":" + std::to_string(row.code)), std::string::npos)
            << added;
      }
    } else {
      EXPECT_EQ(after.size(), before.size()) << "a command refused before any ceremony wrote a record";
    }
  }
  EXPECT_EQ(read_file(existing), "keep me\n");
  // The wrong PIN waited in the pending file; the next ceremony that signs enters it.
  ASSERT_EQ(hsmctl({"sign", "file", "--key", "signer", "--in", data_, "--out", out("ok")}).code, 0);
  EXPECT_EQ(hsmctl({"transcript", "verify"}).code, 0);
  EXPECT_NE(read_file(ws_ / "transcript.jsonl").find("wrong PIN"), std::string::npos);
}

// Mistyped commands and options, and the one threshold rule: exit 2, one error line in the one
// style (lower case, no full stop) that names the closest real word and the command's --help,
// and nothing written to the workspace.
class UsageMistakes : public HsmTest {};

TEST_F(UsageMistakes, TyposNameTheClosestWordAndTheCommandsHelp) {
  struct Row {
    std::vector<std::string> args;
    std::string line;  // the whole error line after "hsmctl: error: "
  };
  const std::string shares = (tmp_.path() / "shares").string();
  make_private_dir(shares);
  const std::string one_rule =
      "--threshold 1 (a 1-of-2 share set) lets one person restore the master key; it is allowed "
      "only with a single custodian and --allow-single-custodian; otherwise use --threshold 2 or "
      "more";
  const std::vector<Row> table = {
      {{"master", "inti"}, "unknown command 'inti'; did you mean 'init'? see 'hsmctl master --help'"},
      {{"mastr", "status"}, "unknown command 'mastr'; did you mean 'master'? see 'hsmctl --help'"},
      {{"completion", "zhs"},
       "unknown command 'zhs'; did you mean 'zsh'? see 'hsmctl completion --help'"},
      {{"master", "init", "--treshold", "2", "--custodians", "a,b", "--shares-out", shares},
       "unknown option '--treshold'; did you mean '--threshold'? see 'hsmctl master init --help'"},
      {{"user", "create", "carol", "--kdf-profil", "min"},
       "unknown option '--kdf-profil'; did you mean '--kdf-profile'? see 'hsmctl user create "
       "--help'"},
      {{"key", "list", "--jsno"},
       "unknown option '--jsno'; did you mean '--json'? see 'hsmctl key list --help'"},
      {{"key", "list", "--colour"},
       "unknown option '--colour' for 'hsmctl key list'; see 'hsmctl key list --help'"},
      {{"master", "frobnicate"},
       "unknown command 'frobnicate'; 'hsmctl master' has init, status, verify-share, restore or "
       "reshare; see 'hsmctl master --help'"},
      {{"master"},
       "'hsmctl master' needs a command: init, status, verify-share, restore or reshare; see "
       "'hsmctl master --help'"},
      {{"master", "init", "--threshold", "1", "--custodians", "a,b", "--shares-out", shares},
       one_rule},
      {{"master", "init", "--threshold", "1", "--custodians", "a,b", "--shares-out", shares,
        "--allow-single-custodian"},
       one_rule},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.line);
    const RunResult r = hsmctl(row.args);
    expect_failure(r, 2, row.line);
    EXPECT_EQ(r.err, "hsmctl: error: " + row.line + "\n");
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(ws_ / "transcript.jsonl"));
    EXPECT_FALSE(fs::exists(ws_ / "keystore.sqlite"));
    EXPECT_TRUE(fs::is_empty(shares));
  }
}

// Messages written in another style (the SLIP-0039 code's "The mnemonic ...", CLI11's) come out
// in the one style too.
TEST_F(UsageMistakes, EveryErrorLineHasOneStyle) {
  ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
  const auto bad = write_file("bad.share", "academic acid acne acquire acrobat activity actress "
                                           "adapt adequate adjust admit adorn adult\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"master", "verify-share", "--share-file", bad.string()},
           {"master", "init", "--threshold", "two", "--custodians", "a,b"}}) {
    const RunResult r = hsmctl(args);
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    const std::string line = r.err_lines().front();
    ASSERT_EQ(line.rfind("hsmctl: error: ", 0), 0u) << line;
    const char first = line[std::string("hsmctl: error: ").size()];
    EXPECT_FALSE(first >= 'A' && first <= 'Z') << line;
    EXPECT_NE(line.back(), '.') << line;
  }
}

}  // namespace
}  // namespace hsm::test
