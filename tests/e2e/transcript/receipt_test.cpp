// Receipts end to end: a file signature and a user signature come with a receipt
// (c2sp.org/tlog-proof@v1 carrying the logged entry); two witnesses in their own directories
// cosign the log's checkpoint; 'receipt update' completes the receipts made before they
// answered; 'hsmctl receipt verify' and scripts/verify-transcript both accept them with the
// signed file and signature, and both refuse another file, a tampered entry, another log key,
// too few cosigners. A receipt that cannot be written is refused before anything is signed.
#include <filesystem>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "support/forge.h"  // split_lines, join_lines
#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

const std::string kReceiptPw = "receipt test password";

class Receipt : public HsmTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(master_init(tmp_.path() / "shares").code, 0);
    RunResult r = hsmctl({"key", "generate", "rel", "--algo", "ec-p256", "--purpose", "code"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source", "env:PW"},
               {{"PW", kReceiptPw}});
    ASSERT_EQ(r.code, 0) << r.err;
    r = hsmctl({"transcript", "export-key", "--vkey"});
    ASSERT_EQ(r.code, 0) << r.err;
    log_vkey_ = write_file("log.vkey", r.out, 0644);
    origin_ = r.out.substr(0, r.out.find('+'));
    for (const std::string w : {"w1", "w2"}) {
      r = hsmctl({"--dir", (tmp_.path() / w).string(), "witness", "init", "--name",
                  w + ".example.org"});
      ASSERT_EQ(r.code, 0) << r.err;
      witness_vkey_[w] = write_file(w + ".vkey", r.out, 0644);
    }
    data_ = write_file("app.tar", "release 1.0\n", 0644);
  }
  std::string path(const std::string& name) const { return (tmp_.path() / name).string(); }
  // Both witnesses cosign the kept checkpoint and the log keeps their cosignatures.
  void cosign_latest() {
    const auto cp = write_file("cp-latest", read_file(ws_ / "tlog" / "checkpoint"), 0644);
    for (const std::string w : {"w1", "w2"}) {
      std::vector<std::string> args{"--dir", path(w), "witness", "cosign", "--log-key",
                                    log_vkey_.string(), "--origin", origin_, cp.string()};
      if (cosigned_) {  // a consistency proof from the size the witness cosigned last
        const RunResult p = hsmctl({"transcript", "prove", "--consistency",
                                    std::to_string(*cosigned_), size_of(cp)});
        ASSERT_EQ(p.code, 0) << p.err;
        args.insert(args.end(), {"--proof", write_file("proof-" + w, p.out).string()});
      }
      const RunResult c = hsmctl(args);
      ASSERT_EQ(c.code, 0) << c.err;
      const RunResult a = hsmctl({"transcript", "add-cosignatures", write_file("cs-" + w, c.out)
                                  .string(), "--witness-key", witness_vkey_[w].string()});
      ASSERT_EQ(a.code, 0) << a.err;
    }
    cosigned_ = std::stoull(size_of(cp));
  }
  static std::string size_of(const fs::path& checkpoint) {
    return split_lines(read_file(checkpoint))[1];
  }
  std::vector<std::string> policy(int min) const {
    return {"--log-key", log_vkey_.string(), "--witness-key", witness_vkey_.at("w1").string(),
            "--witness-key", witness_vkey_.at("w2").string(), "--min-cosigners",
            std::to_string(min)};
  }
  RunResult verify(const std::string& receipt, int min, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"receipt", "verify", "--receipt", receipt};
    for (const auto& p : policy(min)) a.push_back(p);
    a.insert(a.end(), extra.begin(), extra.end());
    return hsmctl(a);
  }
  // scripts/verify-transcript --receipt (no transcript: the receipt alone).
  RunResult python(const std::string& receipt, int min, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"/usr/bin/python3", "-B",
                               std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
                               "--receipt", receipt};
    for (const auto& p : policy(min)) a.push_back(p);
    a.insert(a.end(), extra.begin(), extra.end());
    return run_program(a);
  }
  // The receipt with its entry (the extra line) changed by `edit`.
  fs::path with_entry(const std::string& receipt, const std::string& name,
                      const std::function<void(std::string&)>& edit) {
    auto lines = split_lines(read_file(receipt));
    const Bytes raw = from_base64(lines[1].substr(6));
    std::string entry(raw.begin(), raw.end());
    edit(entry);
    lines[1] = "extra " + to_base64(as_bytes(entry));
    return write_file(name, join_lines(lines), 0644);
  }

  fs::path log_vkey_, data_;
  std::string origin_;
  std::map<std::string, fs::path> witness_vkey_;
  std::optional<std::uint64_t> cosigned_;
};

TEST_F(Receipt, FileAndUserSignaturesWithTwoWitnesses) {
  const RunResult s = hsmctl({"--json", "sign", "file", "--key", "rel", "--in", data_.string(),
                              "--out", path("app.sig"), "--receipt"});
  ASSERT_EQ(s.code, 0) << s.err;
  const std::string file_receipt = path("app.sig.tlog-proof");  // the default, beside --out
  EXPECT_NE(s.out.find(file_receipt), std::string::npos) << s.out;
  ASSERT_TRUE(fs::exists(file_receipt));
  EXPECT_EQ(read_file(file_receipt).rfind("c2sp.org/tlog-proof@v1\nextra ", 0), 0u);
  const RunResult u = hsmctl({"user", "sign", "alice", "--in", data_.string(), "--out",
                              path("alice.sig"), "--password-source", "env:PW", "--receipt",
                              path("alice.receipt")}, {{"PW", kReceiptPw}});
  ASSERT_EQ(u.code, 0) << u.err;
  EXPECT_NE(u.out.find("receipt -> "), std::string::npos) << u.out;
  // Before the witnesses answered: valid, but not cosigned.
  EXPECT_EQ(verify(file_receipt, 0, {"--in", data_.string(), "--sig", path("app.sig")}).code, 0);
  expect_failure(verify(file_receipt, 2), 4, "0 valid cosignatures");
  EXPECT_EQ(python(file_receipt, 2).code, 4);
  cosign_latest();
  for (const std::string& r : {file_receipt, path("alice.receipt")}) {
    const RunResult up = hsmctl({"--json", "receipt", "update", "--receipt", r});
    ASSERT_EQ(up.code, 0) << up.err;
    EXPECT_NE(up.out.find("\"changed\": true"), std::string::npos) << up.out;
  }
  const RunResult ok = verify(file_receipt, 2, {"--in", data_.string(), "--sig", path("app.sig")});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("by key 'rel'"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("cosigned by 2 trusted witnesses"), std::string::npos) << ok.out;
  const RunResult ok_user = verify(path("alice.receipt"), 2, {"--in", data_.string(), "--sig",
                                                              path("alice.sig")});
  ASSERT_EQ(ok_user.code, 0) << ok_user.err;
  EXPECT_NE(ok_user.out.find("user.signed by user 'alice'"), std::string::npos) << ok_user.out;
  for (const std::string& r : {file_receipt, path("alice.receipt")}) {
    const RunResult py = python(r, 2, {"--in", data_.string()});
    EXPECT_EQ(py.code, 0) << py.out << py.err;
    EXPECT_NE(py.out.find("2 trusted cosigners"), std::string::npos) << py.out;
  }
  // The signature itself, checked by stock openssl with the key's public key.
  const RunResult pub = hsmctl({"key", "export-public", "rel", "--out", path("rel.pem")});
  ASSERT_EQ(pub.code, 0) << pub.err;
  const RunResult o = openssl({"dgst", "-sha256", "-verify", path("rel.pem"), "-signature",
                               path("app.sig"), data_.string()});
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  // A second update finds nothing new.
  const RunResult again = hsmctl({"--json", "receipt", "update", "--receipt", file_receipt});
  EXPECT_NE(again.out.find("\"changed\": false"), std::string::npos) << again.out << again.err;
}

TEST_F(Receipt, RefusesWhatDoesNotMatch) {
  ASSERT_EQ(hsmctl({"sign", "file", "--key", "rel", "--in", data_.string(), "--out",
                    path("app.sig"), "--receipt", path("r")}).code, 0);
  const auto other = write_file("other.tar", "release 1.1\n", 0644);
  expect_failure(verify(path("r"), 0, {"--in", other.string()}), 4, "another input file");
  EXPECT_EQ(python(path("r"), 0, {"--in", other.string()}).code, 4);
  expect_failure(verify(path("r"), 0, {"--sig", other.string()}), 4, "another signature");
  EXPECT_EQ(python(path("r"), 0, {"--sig", other.string()}).code, 4);
  // The entry edited to name the other file: the proof no longer leads to the root.
  const auto forged = with_entry(path("r"), "forged", [](std::string& e) {
    const auto at = e.find("\"input_sha256\":\"") + 16;
    e[at] = e[at] == '0' ? '1' : '0';
  });
  expect_failure(verify(forged.string(), 0), 4, "inclusion proof does not lead");
  const RunResult py = python(forged.string(), 0);
  EXPECT_EQ(py.code, 4);
  EXPECT_NE(py.out.find("inclusion proof"), std::string::npos) << py.out;
  // Another log's key (a witness key is not this log's).
  expect_failure(hsmctl({"receipt", "verify", "--receipt", path("r"), "--log-key",
                         witness_vkey_["w1"].string()}), 4, "not signed by the log key");
  // A receipt about a ceremony entry, not a signature.
  ASSERT_EQ(hsmctl({"receipt", "make", "--seq", "1", "--out", path("begin.receipt")}).code, 0);
  EXPECT_EQ(verify(path("begin.receipt"), 0).code, 0);
  expect_failure(verify(path("begin.receipt"), 0, {"--in", data_.string()}), 4,
                 "not a signature");
  expect_failure(hsmctl({"receipt", "verify", "--receipt", path("app.sig"), "--log-key",
                         log_vkey_.string()}), 4, "malformed tlog-proof");
}

TEST_F(Receipt, ExistingReceiptIsRefusedBeforeSigning) {
  write_file("taken", "x", 0644);
  const std::string before = read_file(ws_ / "transcript.jsonl");
  expect_failure(hsmctl({"sign", "file", "--key", "rel", "--in", data_.string(), "--out",
                         path("app.sig"), "--receipt", path("taken")}), 7, "already exists");
  EXPECT_FALSE(fs::exists(path("app.sig")));
  EXPECT_EQ(read_file(ws_ / "transcript.jsonl"), before);
  expect_failure(hsmctl({"user", "sign", "alice", "--in", data_.string(), "--out",
                         path("alice.sig"), "--password-source", "env:PW", "--receipt",
                         path("nodir/r")}, {{"PW", kReceiptPw}}), 7, "does not exist");
  EXPECT_FALSE(fs::exists(path("alice.sig")));
}

TEST_F(Receipt, UpdateRefusesAReceiptOfAnotherLogOrEntry) {
  ASSERT_EQ(hsmctl({"sign", "file", "--key", "rel", "--in", data_.string(), "--out",
                    path("app.sig"), "--receipt", path("r")}).code, 0);
  const auto moved = with_entry(path("r"), "moved", [](std::string& e) {
    e.replace(e.find("\"sign.file\""), 11, "\"sign.filx\"");
  });
  expect_failure(hsmctl({"receipt", "update", "--receipt", moved.string()}), 4,
                 "does not hold the receipt's entry");
}

TEST_F(Receipt, MonitorListsTheSignaturesOfAKeySinceACheckpoint) {
  const auto since = write_file("seen.checkpoint", read_file(ws_ / "tlog" / "checkpoint"), 0644);
  for (const std::string out : {"a.sig", "b.sig"})
    ASSERT_EQ(hsmctl({"sign", "file", "--key", "rel", "--in", data_.string(), "--out",
                      path(out)}).code, 0);
  ASSERT_EQ(hsmctl({"user", "sign", "alice", "--in", data_.string(), "--out", path("u.sig"),
                    "--password-source", "env:PW"}, {{"PW", kReceiptPw}}).code, 0);
  const RunResult k = hsmctl({"--json", "transcript", "monitor", "--key", "rel", "--since",
                              since.string(), "--log-key", log_vkey_.string()});
  ASSERT_EQ(k.code, 0) << k.err;
  const auto doc = nlohmann::json::parse(k.out);
  ASSERT_EQ(doc["signatures"].size(), 2u) << k.out;
  const RunResult digest = openssl({"dgst", "-sha256", "-r", data_.string()});
  for (const auto& s : doc["signatures"]) {
    EXPECT_EQ(s["event"], "sign.file");
    EXPECT_EQ(s["input_sha256"], digest.out.substr(0, 64));
    EXPECT_GE(s["seq"].get<std::uint64_t>(), doc["since"].get<std::uint64_t>());
  }
  const RunResult u = hsmctl({"transcript", "monitor", "--user", "alice", "--since",
                              since.string()});
  ASSERT_EQ(u.code, 0) << u.err;
  EXPECT_NE(u.out.find("user.signed by user 'alice'"), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("1 signature in entries"), std::string::npos) << u.out;
  // From the start of the log the count is the same (no signature before the setup's end).
  const RunResult all = hsmctl({"--json", "transcript", "monitor", "--key", "rel"});
  EXPECT_EQ(nlohmann::json::parse(all.out)["signatures"].size(), 2u) << all.out;
  // A checkpoint of another log, and a log cut short, are refused rather than listed.
  auto lines = split_lines(read_file(since));
  lines[0] = "example.org/another-log";
  const auto other = write_file("other.checkpoint", join_lines(lines), 0644);
  expect_failure(hsmctl({"transcript", "monitor", "--key", "rel", "--since", other.string()}), 4,
                 "not of this workspace's");
  expect_failure(hsmctl({"transcript", "monitor", "--key", "rel", "--since", other.string(),
                         "--log-key", log_vkey_.string()}), 4, "does not verify");
  auto log = split_lines(read_file(ws_ / "transcript.jsonl"));
  log.resize(std::stoull(size_of(since)) - 1);
  write_file("ws/transcript.jsonl", join_lines(log));
  const RunResult cut = hsmctl({"transcript", "monitor", "--key", "rel", "--since",
                                since.string()});
  EXPECT_EQ(cut.code, 4) << cut.out << cut.err;
  expect_failure(hsmctl({"transcript", "monitor", "--since", since.string()}), 2, "--key");
}

}  // namespace
}  // namespace hsm::test
