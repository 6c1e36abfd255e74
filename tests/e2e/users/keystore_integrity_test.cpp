// An insider who can write keystore.sqlite but has no PIN, against real SoftHSM tokens: a
// user's old row copied back after 'user passwd', a deleted user put back, the OTP step or the
// lockout counters reset, two users' rows swapped, a key's row edited, a whole older keystore
// file restored. Each is refused at use with exit 4 and a line naming the row, and doctor names
// it too (docs/design.md, "Keystore integrity"). Restoring an older keystore and cutting the
// transcript to match is a truncated log: a cosigned checkpoint kept elsewhere catches it.
#include <filesystem>
#include <fstream>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

const std::string kOld = "the old password of bob";
const std::string kNew = "the new password of bob";

class KeystoreIntegrity : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    for (const std::string name : {"alice", "bob"})
      ASSERT_EQ(hsmctl({"user", "create", name, "--kdf-profile", "min", "--password-source",
                        "env:PW"}, {{"PW", kOld}}).code, 0);
    data_ = write_file("data.txt", "quarterly report\n", 0644).string();
  }
  RunResult sign(const std::string& name, const std::string& password,
                 std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"user", "sign", name, "--in", data_, "--out",
                               (tmp_.path() / ("s" + std::to_string(++n_))).string(),
                               "--password-source", "env:PW"};
    a.insert(a.end(), extra.begin(), extra.end());
    return hsmctl(a, {{"PW", password}});
  }
  RunResult sql(const std::string& statement) {
    return run_program({"/usr/bin/sqlite3", (ws_ / "keystore.sqlite").string(), statement});
  }
  // A consistent copy of the keystore as it is now (the attacker's snapshot).
  std::string snapshot(const std::string& name) {
    const std::string file = (tmp_.path() / name).string();
    EXPECT_EQ(sql(".backup '" + file + "'").code, 0);
    return file;
  }
  // Puts the snapshot's row of `name` back in place of the current one (or where none is).
  void restore_row(const std::string& file, const std::string& name) {
    const RunResult r = sql("ATTACH '" + file + "' AS old; DELETE FROM users WHERE name = '" +
                            name + "'; INSERT INTO users SELECT * FROM old.users WHERE name = '" +
                            name + "';");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void expect_doctor_names(const std::string& needle) {
    const RunResult d = hsmctl({"doctor", "--offline"});
    EXPECT_EQ(d.code, 4) << d.out << d.err;
    EXPECT_NE(d.out.find(needle), std::string::npos) << d.out;
  }
  std::string otp_seed(const std::string& name) {
    const RunResult r = hsmctl({"user", "otp-enroll", name, "--password-source", "env:PW",
                                "--show-secret"}, {{"PW", kOld}});
    EXPECT_EQ(r.code, 0) << r.err;
    const std::size_t at = r.out.find("secret=");
    return r.out.substr(at + 7, r.out.find('&', at) - at - 7);
  }

  std::string data_;
  int n_ = 0;
};

TEST_F(KeystoreIntegrity, AnUntouchedKeystorePassesDoctor) {
  ASSERT_EQ(sign("bob", kOld).code, 0);
  const RunResult d = hsmctl({"doctor", "--offline"});
  EXPECT_EQ(d.code, 0) << d.out << d.err;
  EXPECT_NE(d.out.find("rows are as the transcript recorded them"), std::string::npos) << d.out;
}

TEST_F(KeystoreIntegrity, OldRowAfterPasswdIsRefused) {
  const std::string before = snapshot("before.sqlite");
  ASSERT_EQ(hsmctl({"user", "passwd", "bob", "--password-source", "env:PW",
                    "--new-password-source", "env:NEW"}, {{"PW", kOld}, {"NEW", kNew}}).code, 0);
  restore_row(before, "bob");
  expect_failure(sign("bob", kOld), 4, "user 'bob' in the keystore is not what the transcript "
                                       "recorded last");
  expect_failure(sign("bob", kNew), 4, "user 'bob'");
  expect_doctor_names("user 'bob' is not what the transcript recorded last");
  EXPECT_EQ(sign("alice", kOld).code, 0);  // alice's row and its bucket are untouched
}

TEST_F(KeystoreIntegrity, DeletedUserPutBackIsRefused) {
  const std::string before = snapshot("before.sqlite");
  ASSERT_EQ(hsmctl({"user", "delete", "bob", "--yes"}).code, 0);
  restore_row(before, "bob");
  expect_failure(sign("bob", kOld), 4, "the transcript recorded it deleted");
  expect_doctor_names("user 'bob' is in the keystore, but the transcript recorded it deleted");
}

TEST_F(KeystoreIntegrity, ResetOtpStepDoesNotReplayACode) {
  const std::string seed = otp_seed("bob");
  const std::string code =
      run_program({"/usr/bin/oathtool", "--totp", "-b", seed}).out.substr(0, 6);
  ASSERT_EQ(sign("bob", kOld, {"--otp", code}).code, 0);
  expect_failure(sign("bob", kOld, {"--otp", code}), 3, "already used");
  ASSERT_EQ(sql("UPDATE users SET otp_last_step = 0 WHERE name = 'bob'").code, 0);
  expect_failure(sign("bob", kOld, {"--otp", code}), 4, "user 'bob' in the keystore");
  expect_doctor_names("user 'bob'");
}

TEST_F(KeystoreIntegrity, ResetLockoutIsRefused) {
  std::ofstream(ws_ / "hsmctl.toml") << "[users]\nmax_auth_failures = 2\n";
  for (int i = 0; i < 2; ++i) EXPECT_EQ(sign("bob", "a wrong password!").code, 3);
  expect_failure(sign("bob", kOld), 3, "is locked");
  ASSERT_EQ(sql("UPDATE users SET failures = 0, locked = 0 WHERE name = 'bob'").code, 0);
  expect_failure(sign("bob", kOld), 4, "user 'bob' in the keystore");
  expect_doctor_names("user 'bob'");
}

TEST_F(KeystoreIntegrity, SwappedRowsAreRefused) {
  ASSERT_EQ(sql("UPDATE users SET name = 'tmp' WHERE name = 'alice'; "
                "UPDATE users SET name = 'alice' WHERE name = 'bob'; "
                "UPDATE users SET name = 'bob' WHERE name = 'tmp';").code, 0);
  expect_failure(sign("bob", kOld), 4, "user 'bob'");
  expect_failure(sign("alice", kOld), 4, "user 'alice'");
  expect_doctor_names("user 'alice'");
}

TEST_F(KeystoreIntegrity, EditedKeyRowIsRefused) {
  ASSERT_EQ(hsmctl({"key", "generate", "rel", "--algo", "ec-p256", "--purpose", "code"}).code, 0);
  ASSERT_EQ(sql("UPDATE keys SET status = 'active', crl_number = 7 WHERE label = 'rel'").code, 0);
  expect_failure(hsmctl({"sign", "file", "--key", "rel", "--in", data_, "--out",
                         (tmp_.path() / "rel.sig").string()}), 4,
                 "key 'rel' in the keystore is not what the transcript recorded last");
  EXPECT_FALSE(fs::exists(tmp_.path() / "rel.sig"));
  expect_doctor_names("key 'rel'");
}

TEST_F(KeystoreIntegrity, WholeOlderKeystoreFileIsRefused) {
  const std::string before = snapshot("before.sqlite");
  ASSERT_EQ(hsmctl({"user", "passwd", "bob", "--password-source", "env:PW",
                    "--new-password-source", "env:NEW"}, {{"PW", kOld}, {"NEW", kNew}}).code, 0);
  ASSERT_EQ(sql(".restore '" + before + "'").code, 0);
  expect_failure(sign("bob", kOld), 4, "user 'bob'");
  expect_doctor_names("user 'bob'");
}

TEST_F(KeystoreIntegrity, OlderKeystoreWithATruncatedTranscriptIsCaughtByACheckpoint) {
  const std::string before = snapshot("before.sqlite");
  const std::string log_before = read_file(ws_ / "transcript.jsonl");
  ASSERT_EQ(hsmctl({"user", "passwd", "bob", "--password-source", "env:PW",
                    "--new-password-source", "env:NEW"}, {{"PW", kOld}, {"NEW", kNew}}).code, 0);
  // A copy of the checkpoint after the change, as a witness or an auditor keeps it.
  const auto kept = write_file("kept.checkpoint", read_file(ws_ / "tlog" / "checkpoint"), 0644);
  // Both rolled back together, and the derived tree index removed with them.
  ASSERT_EQ(sql(".restore '" + before + "'").code, 0);
  write_file("ws/transcript.jsonl", log_before);
  fs::remove_all(ws_ / "tlog");
  const RunResult v = hsmctl({"transcript", "verify", "--checkpoint", kept.string()});
  EXPECT_EQ(v.code, 4) << v.out << v.err;
  EXPECT_NE(v.err.find("checkpoint covers"), std::string::npos) << v.err;
}

// The attacker appends a copy of the genuine, signed entry that recorded the state before the
// change (and the line before it, so that the last two lines chain), and restores the keystore
// of that state: the log's last state record matches the old keystore, but the log no longer
// counts: nothing is done, and transcript verify names the break.
TEST_F(KeystoreIntegrity, OldStateEntryReplayedAtTheEndIsRefused) {
  const std::string before = snapshot("before.sqlite");
  const std::string log_before = read_file(ws_ / "transcript.jsonl");
  ASSERT_EQ(hsmctl({"user", "passwd", "bob", "--password-source", "env:PW",
                    "--new-password-source", "env:NEW"}, {{"PW", kOld}, {"NEW", kNew}}).code, 0);
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < log_before.size();) {
    const std::size_t nl = log_before.find('\n', pos);
    lines.push_back(log_before.substr(pos, nl - pos + 1));
    pos = nl + 1;
  }
  ASSERT_GE(lines.size(), 2u);
  ASSERT_NE(lines.back().find("\"state\":{\"root\":"), std::string::npos) << lines.back();
  write_file("ws/transcript.jsonl", read_file(ws_ / "transcript.jsonl") + lines[lines.size() - 2] +
                                        lines.back());
  ASSERT_EQ(sql(".restore '" + before + "'").code, 0);
  expect_failure(sign("bob", kOld), 4, "added, removed or reordered");
  const RunResult v = hsmctl({"transcript", "verify"});
  EXPECT_EQ(v.code, 4) << v.out << v.err;
}

}  // namespace
}  // namespace hsm::test
