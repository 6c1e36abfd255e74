// backup create | verify | restore and clone against real SoftHSM tokens: restored keys sign for
// the public keys exported before the backup (checked by openssl), users sign after restore,
// the transcript verifies strictly across it, and every refusal has its exit code and message.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

constexpr const char* kPassword = "alice's long password";

class Backup : public HsmTest {
 protected:
  void SetUp() override {
    shares_ = tmp_.path() / "shares";
    ASSERT_EQ(master_init(shares_).code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "root", "--algo", "ec-p384", "--purpose", "ca"}).code, 0);
    ASSERT_EQ(hsmctl({"key", "generate", "code", "--purpose", "code"}).code, 0);
    ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                      "env:PW"}, {{"PW", kPassword}}).code, 0);
    root_pem_ = write_file("root.pem", hsmctl({"key", "export-public", "root"}).out).string();
    alice_pem_ = write_file("alice.pem", hsmctl({"user", "export-public", "alice"}).out).string();
    data_ = write_file("data.txt", "bytes to sign\n", 0644).string();
    hsm_.init_token("B");
  }
  std::string shares(const std::vector<std::string>& who, const std::string& name = "in") {
    std::string content;
    for (const auto& w : who) content += read_file(shares_ / (w + ".share"));
    return write_file(name, content).string();
  }
  std::string two() { return shares({"a", "c"}, "two"); }
  std::string made_backup(const std::string& name = "site.hsmbk") {
    const std::string out = (tmp_.path() / name).string();
    const RunResult r = hsmctl({"backup", "create", "--out", out, "--shares-file", two()});
    EXPECT_EQ(r.code, 0) << r.err;
    return out;
  }
  RunResult on_b(std::vector<std::string> args) {
    args.insert(args.begin(), {"--token", "B"});
    return hsmctl(args, {{"PW", kPassword}});
  }
  RunResult restore_on_b(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"backup", "restore", file, "--shares-file", two(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return on_b(args);
  }
  int objects_on(const std::string& token) {
    const auto doc = hsmctl({"--token", token, "token", "objects", "--json"}).json();
    return static_cast<int>(doc["objects"].size());
  }
  // Signs with `root` on B and has openssl check it against the PEM exported from A.
  void root_signs_on(const std::string& token) {
    const std::string sig = (tmp_.path() / (token + "-root.sig")).string();
    const RunResult s = hsmctl({"--token", token, "sign", "file", "--key", "root", "--in", data_,
                                "--out", sig});
    ASSERT_EQ(s.code, 0) << s.err;
    const RunResult v = openssl({"dgst", "-sha384", "-verify", root_pem_, "-signature", sig, data_});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  void alice_signs_on(const std::string& token) {
    const std::string sig = (tmp_.path() / (token + "-alice.sig")).string();
    const RunResult s = hsmctl({"--token", token, "user", "sign", "alice", "--in", data_, "--out",
                                sig, "--password-source", "env:PW"}, {{"PW", kPassword}});
    ASSERT_EQ(s.code, 0) << s.err;
    const RunResult v = openssl({"dgst", "-sha256", "-verify", alice_pem_, "-signature", sig, data_});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  void strict_transcript() {
    const RunResult v = hsmctl({"transcript", "verify", "--strict", "--json"});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }

  std::filesystem::path shares_;
  std::string root_pem_, alice_pem_, data_;
};

TEST_F(Backup, RestoredKeysSignOnANewTokenForThePublicKeysExportedBefore) {
  const std::string file = made_backup();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const auto plain = hsmctl({"backup", "verify", file, "--json"}).json();
  EXPECT_FALSE(plain["authenticated"].get<bool>());
  EXPECT_EQ(plain["checked"], "format only");
  EXPECT_EQ(plain["keys"].size(), 3u);  // root, code, the escrowed transcript key
  const auto checked = hsmctl({"backup", "verify", file, "--shares-file", two(), "--json"}).json();
  EXPECT_TRUE(checked["authenticated"].get<bool>());
  EXPECT_EQ(checked["kcv"], hsmctl({"master", "status", "--json"}).json()["kcv"]);

  ASSERT_EQ(on_b({"master", "restore", "--shares-file", two()}).code, 0);
  const RunResult r = restore_on_b(file);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = r.json();
  std::vector<std::string> restored = doc["restored"];
  std::sort(restored.begin(), restored.end());
  EXPECT_EQ(restored, (std::vector<std::string>{"code", "root"}));
  EXPECT_EQ(doc["keystore"], "kept");
  root_signs_on("B");
  alice_signs_on("B");
  strict_transcript();

  // Every restored key on B is frozen like the originals.
  const auto objects = hsmctl({"--token", "B", "token", "objects", "--json"}).json();
  int private_keys = 0;
  for (const auto& o : objects["objects"]) {
    if (o["class"] != "private-key") continue;
    ++private_keys;
    EXPECT_FALSE(o["extractable"].get<bool>()) << o.dump();
    EXPECT_TRUE(o["sensitive"].get<bool>()) << o.dump();
    EXPECT_FALSE(o["modifiable"].get<bool>()) << o.dump();
  }
  EXPECT_EQ(private_keys, 3);
}

TEST_F(Backup, CloneFillsAFreshTokenInOneCeremonyAndTheTranscriptSignsOn) {
  const RunResult r = hsmctl({"clone", "--from-token", "test", "--to-token", "B", "--shares-file",
                              two(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["kcv"], hsmctl({"master", "status", "--json"}).json()["kcv"]);
  root_signs_on("B");
  alice_signs_on("B");
  root_signs_on("test");
  strict_transcript();
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"what\":\"clone\""), std::string::npos);
  expect_failure(hsmctl({"clone", "--from-token", "test", "--to-token", "B", "--shares-file",
                         two()}), 7, "already holds a master key");
}

TEST_F(Backup, QuorumAndMasterRefusals) {
  const std::string file = made_backup();
  ASSERT_EQ(on_b({"master", "restore", "--shares-file", two()}).code, 0);
  const int before = objects_on("B");
  expect_failure(on_b({"backup", "restore", file, "--shares-file", shares({"b"}, "one")}), 5, "");
  expect_failure(hsmctl({"backup", "create", "--out", (tmp_.path() / "x").string(),
                         "--shares-file", shares({"b"}, "one")}), 5, "");

  // A second workspace with a master of its own: its shares and its backups do not fit.
  const auto other = tmp_.path() / "other";
  const auto other_shares = tmp_.path() / "other-shares";
  make_private_dir(other_shares);
  hsm_.init_token("C");
  ASSERT_EQ(hsmctl({"--dir", other.string(), "--token", "C", "master", "init", "--threshold", "2",
                    "--custodians", "x,y", "--shares-out", other_shares.string()}).code, 0);
  const std::string foreign = write_file("foreign", read_file(other_shares / "x.share") +
                                                        read_file(other_shares / "y.share")).string();
  const RunResult wrong = on_b({"backup", "restore", file, "--shares-file", foreign});
  EXPECT_TRUE(wrong.code == 4 || wrong.code == 5) << wrong.code << wrong.err;
  const std::string other_file = (tmp_.path() / "other.hsmbk").string();
  ASSERT_EQ(hsmctl({"--dir", other.string(), "--token", "C", "backup", "create", "--out",
                    other_file, "--shares-file", foreign}).code, 0);
  expect_failure(restore_on_b(other_file), 4, "master key");

  // No master on the token: run master restore first.
  hsm_.init_token("D");
  expect_failure(hsmctl({"--token", "D", "backup", "restore", file, "--shares-file", two()}), 7,
                 "master restore");
  EXPECT_EQ(objects_on("B"), before);
  // An existing output file is never overwritten.
  expect_failure(hsmctl({"backup", "create", "--out", file, "--shares-file", two()}), 7,
                 "already exists");
}

TEST_F(Backup, AnyFlippedOrMissingByteIsRefusedAndNothingIsRestored) {
  const std::string file = made_backup();
  ASSERT_EQ(on_b({"master", "restore", "--shares-file", two()}).code, 0);
  const int before = objects_on("B");
  const std::string good = read_file(file);
  const std::size_t n = good.size();
  for (std::size_t at : {std::size_t{0}, std::size_t{5}, std::size_t{17}, n / 7, n / 3, n / 2,
                         2 * n / 3, n - 80, n - 40, n - 2, n - 1}) {
    SCOPED_TRACE(at);
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    const std::string f = write_file("flipped", bad).string();
    expect_failure(restore_on_b(f), 4, "");
    std::filesystem::remove(f);
  }
  for (std::size_t keep : {std::size_t{0}, std::size_t{10}, n / 2, n - 1}) {
    SCOPED_TRACE(keep);
    const std::string f = write_file("truncated", good.substr(0, keep)).string();
    expect_failure(restore_on_b(f), 4, "malformed");
    std::filesystem::remove(f);
  }
  EXPECT_EQ(objects_on("B"), before);
  ASSERT_EQ(restore_on_b(file).code, 0);  // the control: the untouched file restores
  // Each refusal is on record, entered by the next ceremony, and says what was refused.
  const std::string t = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(t.find("\"what\":\"backup.restore\""), std::string::npos);
  EXPECT_EQ(t.find("\"what\":\"\""), std::string::npos) << "a failure record without a name";
}

TEST_F(Backup, ExistingObjectsNeedSkipExisting) {
  const std::string file = made_backup();
  ASSERT_EQ(on_b({"master", "restore", "--shares-file", two()}).code, 0);
  ASSERT_EQ(restore_on_b(file).code, 0);
  const int after = objects_on("B");
  expect_failure(restore_on_b(file), 7, "--skip-existing");
  const RunResult again = restore_on_b(file, {"--skip-existing"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["restored"].size(), 0u);
  EXPECT_EQ(objects_on("B"), after);
}

TEST_F(Backup, AFailureMidRestoreLeavesNoObjectBehind) {
  const std::string file = made_backup();
  ASSERT_EQ(on_b({"master", "restore", "--shares-file", two()}).code, 0);
  const int before = objects_on("B");
  const auto shim = std::filesystem::path(HSMCTL_BINARY).parent_path() / "tests" / "faultshim" /
                    "hsmfaultshim.so";
  ASSERT_TRUE(std::filesystem::exists(shim)) << shim;
  // The second key's unwrap fails, then (another run) the second key's self-test signature.
  for (const auto& [function, call] : std::vector<std::pair<std::string, std::string>>{
           {"C_UnwrapKey", "2"}, {"C_Sign", "2"}, {"C_CreateObject", "2"}}) {
    SCOPED_TRACE(function);
    const RunResult r = hsmctl({"--token", "B", "--module", shim.string(), "backup", "restore",
                                file, "--shares-file", two()},
                               {{"FAULTSHIM_MODULE", HSMCTL_SOFTHSM_MODULE},
                                {"FAULTSHIM_FUNCTION", function}, {"FAULTSHIM_CALL", call}});
    expect_failure(r, 6, "");
    EXPECT_EQ(objects_on("B"), before);
  }
  const RunResult ok = restore_on_b(file);
  ASSERT_EQ(ok.code, 0) << ok.err;
  root_signs_on("B");
  strict_transcript();
}

// kill -9 in the middle of a restore (after the first key pair, or between a private key and its
// public half): a plain rerun names every key already there, a rerun with --skip-existing checks
// those against the backup's public keys, repairs a missing half and restores the rest.
TEST_F(Backup, AKilledRestoreIsReportedAndFinishedByARerun) {
#ifndef HSMCTL_TEST_HOOKS
  GTEST_SKIP() << "needs HSMCTL_TEST_HOOKS (the ASan build of scripts/test has them)";
#else
  const std::string file = made_backup();
  for (const std::string crash_at : {"backup.restore.key-installed:1", "escrow.after-unwrap:1"}) {
    SCOPED_TRACE(crash_at);
    const std::string token = crash_at.starts_with("backup") ? "E" : "F";
    hsm_.init_token(token);
    ASSERT_EQ(hsmctl({"--token", token, "master", "restore", "--shares-file", two()}).code, 0);
    const int before = objects_on(token);
    const std::vector<std::string> restore{"--token", token, "backup", "restore", file,
                                           "--shares-file", two(), "--json"};
    const RunResult killed = hsmctl(restore, {{"HSMCTL_CRASH_AT", crash_at}});
    ASSERT_EQ(killed.code, 128 + 9) << killed.err;
    EXPECT_EQ(objects_on(token), before + (crash_at.starts_with("backup") ? 2 : 1));

    const RunResult plain = hsmctl(restore);
    expect_failure(plain, 7, "--skip-existing");
    const std::string first = plain.err.find("'root'") != std::string::npos ||
                                      plain.err.find(": root") != std::string::npos
                                  ? "root" : "code";
    EXPECT_NE(plain.err.find(first), std::string::npos) << plain.err;

    std::vector<std::string> skip = restore;
    skip.push_back("--skip-existing");
    const RunResult rerun = hsmctl(skip);
    ASSERT_EQ(rerun.code, 0) << rerun.err;
    EXPECT_EQ(rerun.json()["restored"].size() + rerun.json()["skipped"].size(), 3u)
        << rerun.out;
    root_signs_on(token);
    alice_signs_on(token);
    // The killed run left a ceremony that never ended; the next one says so and the chain holds.
    const RunResult v = hsmctl({"transcript", "verify", "--json"});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
#endif
}

// Another machine with only the backup file and the shares: master restore adopts the share set
// into an empty workspace, backup restore then brings the keystore (keys, users, groups).
TEST_F(Backup, RestoresIntoAnEmptyWorkspaceOnAnotherMachine) {
  const std::string file = made_backup();
  const std::string site = (tmp_.path() / "site2").string();
  const RunResult m = hsmctl({"--yes", "--dir", site, "--token", "B", "master", "restore",
                              "--shares-file", two()});
  ASSERT_EQ(m.code, 0) << m.err;
  const RunResult r = hsmctl({"--dir", site, "--token", "B", "backup", "restore", file,
                              "--shares-file", two(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["restored"].size(), 2u) << r.out;
  const std::string sig = (tmp_.path() / "site2-root.sig").string();
  ASSERT_EQ(hsmctl({"--dir", site, "--token", "B", "sign", "file", "--key", "root", "--in", data_,
                    "--out", sig}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha384", "-verify", root_pem_, "-signature", sig, data_}).code, 0);
  const std::string asig = (tmp_.path() / "site2-alice.sig").string();
  const RunResult a = hsmctl({"--dir", site, "--token", "B", "user", "sign", "alice", "--in", data_,
                              "--out", asig, "--password-source", "env:PW"}, {{"PW", kPassword}});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", alice_pem_, "-signature", asig, data_}).code, 0);
  const RunResult v = hsmctl({"--dir", site, "transcript", "verify", "--strict", "--json"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
}

TEST_F(Backup, TheFileHoldsNoShareNoMasterSecretAndNoDerivedKey) {
  const std::string file = made_backup();
  const std::string content = read_file(file);
  for (const std::string who : {"a", "b", "c"}) {
    std::string mnemonic = read_file(shares_ / (who + ".share"));
    mnemonic.erase(mnemonic.find_last_not_of('\n') + 1);
    EXPECT_EQ(content.find(mnemonic.substr(0, 40)), std::string::npos) << who;
  }
  // S from an independent SLIP-0039 implementation, and the keys derived from it.
  const RunResult s = run_program(
      {"/usr/bin/python3", "-S", "-B", std::string(HSMCTL_SOURCE_DIR) + "/tests/interop/slip39.py",
       "combine", (shares_ / "a.share").string(), (shares_ / "b.share").string()},
      {{"SLIP39_WORDLIST", std::string(HSMCTL_SOURCE_DIR) + "/tests/vectors/slip39/wordlist.txt"}});
  ASSERT_EQ(s.code, 0) << s.err;
  std::string secret_hex = s.out.substr(0, 64);
  ASSERT_EQ(secret_hex.size(), 64u);
  std::vector<std::string> needles{secret_hex};
  for (const std::string label : {"hsmctl v1 wrap", "hsmctl v1 derive", "hsmctl v1 backup",
                                  "hsmctl v1 quorum"}) {
    const std::string msg = write_file("label", label).string();
    const RunResult h = openssl({"mac", "-digest", "SHA256", "-macopt", "hexkey:" + secret_hex,
                                 "-in", msg, "HMAC"});
    ASSERT_EQ(h.code, 0) << h.err;
    std::string hex = h.out.substr(0, 64);
    std::transform(hex.begin(), hex.end(), hex.begin(), ::tolower);
    needles.push_back(hex);
  }
  std::string lower = content;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  for (const auto& hex : needles) {
    EXPECT_EQ(lower.find(hex), std::string::npos) << hex;
    std::string raw;
    for (std::size_t i = 0; i < hex.size(); i += 2)
      raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    EXPECT_EQ(content.find(raw.substr(0, 16)), std::string::npos) << hex;
    const std::string b64 = run_program({"/usr/bin/sh", "-c", "printf %s " + hex +
                                         " | xxd -r -p | base64 -w0"}).out;
    ASSERT_FALSE(b64.empty());
    EXPECT_EQ(content.find(b64.substr(0, 20)), std::string::npos) << hex;
  }
}

}  // namespace
}  // namespace hsm::test
