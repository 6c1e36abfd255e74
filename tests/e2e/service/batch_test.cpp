// Group commit in `hsmctl serve` (ceremonies/service/group_commit.h): requests that arrive
// together on one worker are signed in one batch, one recorded ceremony `serve.sign` whose
// ceremony.begin names every request with its client; each request still gets its own answer
// (a wrong password fails alone, a code used twice in one batch is accepted once), every
// signature verifies with openssl and is a user.signed entry at the seq its answer gives. The
// requests' entries are written unsigned and covered by one signed ceremony.sealed entry per
// batch (docs/design.md, "Deferred signatures"), which both verifiers accept.
#include <map>
#include <sstream>
#include <thread>

#include "e2e/service/serve_fixture.h"

namespace hsm::test {
namespace {

using ServeBatch = ServeTest;

TEST_F(ServeBatch, RequestsArrivingTogetherShareABatchAndEachGetsItsOwnAnswer) {
  const RunResult e = hsmctl({"user", "create", "bob", "--algo", "p256", "--kdf-profile", "min",
                              "--password-source", "env:PW", "--json"}, {{"PW", kServePassword}});
  ASSERT_EQ(e.code, 0) << e.err;
  const RunResult enrol = hsmctl({"user", "otp-enroll", "bob", "--password-source", "env:PW",
                                  "--show-secret"}, {{"PW", kServePassword}});
  ASSERT_EQ(enrol.code, 0) << enrol.err;
  const std::size_t at = enrol.out.find("secret=");
  const std::string seed = enrol.out.substr(at + 7, enrol.out.find('&', at) - at - 7);
  start(1, {"--user-rate", "0"});
  const HttpAnswer pub = get("/v1/users/alice/public-key");
  ASSERT_EQ(pub.status, 200) << pub.body;
  const auto pem = write_file("alice.pem", pub.body);
  const std::string code =
      run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now", seed}).out.substr(0, 6);

  // 14 clients connect, then send at once: 8 good signatures of alice, 2 wrong passwords of
  // alice, and bob's one code 4 times.
  const std::string script = R"PY(
import base64, http.client, json, ssl, sys, threading
port, ca, cert, key, password, code = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
jobs = [("alice", "good %d" % i, password, None) for i in range(8)]
jobs += [("alice", "bad %d" % i, "not-the-password-%d" % i, None) for i in range(2)]
jobs += [("bob", "code %d" % i, password, code) for i in range(4)]
barrier = threading.Barrier(len(jobs))
out, lock = [], threading.Lock()
def client(user, data, pw, otp):
    c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)
    c.connect()
    body = {"data": base64.b64encode(data.encode()).decode(), "password": pw}
    if otp: body["otp"] = otp
    barrier.wait()
    c.request("POST", "/v1/users/%s/sign" % user, body=json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    answer = json.loads(r.read().decode())
    with lock:
        out.append({"user": user, "data": data, "status": r.status, "answer": answer})
threads = [threading.Thread(target=client, args=j) for j in jobs]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(out))
)PY";
  const RunResult r = python_script(script, {kServePassword, code});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto answers = nlohmann::json::parse(r.out);
  ASSERT_EQ(answers.size(), 14u) << r.out;

  std::map<std::uint64_t, std::string> signed_at;  // seq -> signature (base64)
  int good = 0, bad = 0, bob_ok = 0, bob_refused = 0, checked = 0;
  for (const auto& a : answers) {
    const std::string data = a["data"];
    const int status = a["status"];
    if (a["user"] == "bob") {
      status == 200 ? ++bob_ok : ++bob_refused;
      if (status == 200) signed_at[a["answer"]["seq"].get<std::uint64_t>()] = a["answer"]["signature"];
      else EXPECT_EQ(status, 401) << a.dump();
      continue;
    }
    if (data.rfind("bad", 0) == 0) {
      EXPECT_EQ(status, 401) << a.dump();
      ++bad;
      continue;
    }
    ASSERT_EQ(status, 200) << a.dump();
    ++good;
    signed_at[a["answer"]["seq"].get<std::uint64_t>()] = a["answer"]["signature"];
    if (checked < 3) {  // openssl checks a few of them against alice's public key
      ++checked;
      const auto file = write_file("data" + std::to_string(checked), data);
      const auto sig64 = write_file("sig" + std::to_string(checked) + ".b64",
                                    a["answer"]["signature"].get<std::string>());
      const auto sig = tmp_.path() / ("sig" + std::to_string(checked));
      ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig64.string(), "-out", sig.string()}).code, 0);
      EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature", sig.string(),
                         file.string()}).code, 0) << data;
    }
  }
  EXPECT_EQ(good, 8);
  EXPECT_EQ(bad, 2);
  EXPECT_EQ(bob_ok, 1) << r.out;  // one code, accepted once, even inside one batch
  EXPECT_EQ(bob_refused, 3) << r.out;
  EXPECT_EQ(signed_at.size(), 9u);  // nine signatures, nine different entries

  // Every answer's seq is its user.signed entry; the batches' ceremony.begin entries name all 14
  // requests with the client's fingerprint, and at least one batch held several.
  const std::string fp = sha256_fingerprint_of(pki("client.crt"));
  std::map<std::uint64_t, nlohmann::json> entries;
  std::size_t named = 0, largest = 0, seals = 0;
  std::istringstream lines(transcript());
  bool awaiting_seal = false;
  for (std::string line; std::getline(lines, line);) {
    const auto entry = nlohmann::json::parse(line);
    entries[entry["seq"].get<std::uint64_t>()] = entry;
    // A batch: its begin signed, its requests' entries unsigned, then its signed seal.
    const bool unsigned_entry = entry["sig"] == "";
    if (unsigned_entry) awaiting_seal = true;
    if (entry["event"] == "ceremony.sealed") {
      EXPECT_TRUE(awaiting_seal) << line;
      EXPECT_FALSE(unsigned_entry) << line;
      awaiting_seal = false;
      ++seals;
    }
    if (entry["event"] == "ceremony.begin" && entry["data"]["what"] == "serve.sign") {
      const auto& requests = entry["data"]["params"]["requests"];
      largest = std::max(largest, requests.size());
      for (const auto& q : requests)
        if (q["client_fingerprint"] == fp) ++named;
    }
  }
  EXPECT_FALSE(awaiting_seal);
  EXPECT_GE(seals, 1u);
  for (const auto& [seq, sig64] : signed_at) {
    ASSERT_TRUE(entries.count(seq)) << seq;
    EXPECT_EQ(entries[seq]["event"], "user.signed") << seq;
    EXPECT_EQ(entries[seq]["sig"], "") << seq;  // no token signature per request
    const auto sig64_file = write_file("s" + std::to_string(seq) + ".b64", sig64);
    const auto sig = tmp_.path() / ("s" + std::to_string(seq));
    ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig64_file.string(), "-out", sig.string()}).code, 0);
    const std::string digest = openssl({"dgst", "-sha256", "-r", sig.string()}).out.substr(0, 64);
    EXPECT_EQ(entries[seq]["data"]["signature_sha256"], digest) << seq;
  }
  EXPECT_EQ(named, 14u);
  EXPECT_GT(largest, 1u) << "no two requests shared a batch";
  EXPECT_EQ(transcript().find(kServePassword), std::string::npos);
  EXPECT_EQ(transcript().find("\"" + code + "\""), std::string::npos);
  const RunResult v = hsmctl({"--json", "transcript", "verify"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_GE(v.json()["unsigned_entries"].get<int>(), 9) << v.out;
  const RunResult py = run_program({"/usr/bin/python3", "-B",
                                    std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
                                    (ws_ / "transcript.jsonl").string()});
  EXPECT_EQ(py.code, 0) << py.out << py.err;
  // The wrong passwords were counted, and reset by a later good signature in their batch or
  // after it.
  const RunResult show = hsmctl({"--json", "user", "show", "alice"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_LE(show.json()["failures"].get<int>(), 2) << show.out;
}

// A worker killed (SIGKILL) at a point of its batch: before the seal (the requests' entries are
// on disk unsigned: an unsealed tail, which the next ceremony cuts, keeps a copy of and
// records), before the keystore commits (the entries are on disk and sealed, the codes used are
// not), or after the batch is on disk but before the answer leaves. Either way the client gets no signature, the supervisor starts a new worker, the next
// ceremony closes the batch (ceremony.interrupted), doctor finds the keystore consistent with the
// transcript, and the code is used up exactly when the batch committed.
TEST_F(ServeBatch, AWorkerKilledInABatchReleasesNoSignatureAndLeavesTheWorkspaceConsistent) {
#ifndef HSMCTL_TEST_HOOKS
  GTEST_SKIP() << "needs HSMCTL_TEST_HOOKS (the ASan build of scripts/test has them)";
#endif
  struct Case {
    const char* point;
    const char* user;
    bool committed;  // the code is used up: the keystore committed before the kill
    bool cut;        // the batch's entries were never sealed: the next ceremony cuts them
  };
  for (const Case& c : {Case{"serve.batch.before-seal", "erin", false, true},
                        Case{"serve.batch.before-commit", "bob", false, false},
                        Case{"serve.batch.before-answer", "carol", true, false}}) {
    SCOPED_TRACE(c.point);
    ASSERT_EQ(hsmctl({"user", "create", c.user, "--algo", "p256", "--kdf-profile", "min",
                      "--password-source", "env:PW"}, {{"PW", kServePassword}}).code, 0);
    const RunResult enrol = hsmctl({"user", "otp-enroll", c.user, "--password-source", "env:PW",
                                    "--show-secret"}, {{"PW", kServePassword}});
    ASSERT_EQ(enrol.code, 0) << enrol.err;
    const std::size_t at = enrol.out.find("secret=");
    const std::string seed = enrol.out.substr(at + 7, enrol.out.find('&', at) - at - 7);
    // Every worker dies at its first pass of the point: the test stops the service after one.
    start(1, {"--user-rate", "0"}, {{"HSMCTL_CRASH_AT", c.point}});
    const std::string code =
        run_program({"/usr/bin/oathtool", "--totp", "-b", "-N", "now", seed}).out.substr(0, 6);
    nlohmann::json body = sign_body("killed");
    body["otp"] = code;
    const HttpAnswer a = post(std::string("/v1/users/") + c.user + "/sign", body);
    EXPECT_NE(a.status, 200) << a.body;  // the connection dies with the worker
    EXPECT_EQ(a.body.find("signature"), std::string::npos) << a.body;
    server_->signal(SIGTERM);
    server_->finish(std::chrono::seconds(60));
    server_.reset();

    // The next ceremony (here the CLI's own signature with the same code) closes the batch.
    const auto in = write_file(std::string("in-") + c.user, "after the kill");
    const RunResult cli = hsmctl({"user", "sign", c.user, "--in", in.string(), "--out",
                                  (tmp_.path() / (std::string(c.user) + ".sig")).string(),
                                  "--password-source", "env:PW", "--otp-source", "env:OTP"},
                                 {{"PW", kServePassword}, {"OTP", code}});
    if (c.committed) {
      expect_failure(cli, 3, "already used");
    } else {
      EXPECT_EQ(cli.code, 0) << cli.err;
    }
    // Killed before its end, the batch is closed by the CLI's ceremony; killed after, it ended.
    if (!c.committed) {
      EXPECT_NE(transcript().find("\"event\":\"ceremony.interrupted\""), std::string::npos);
    }
    // The unsealed entries are gone from the transcript (the one left for this user is the
    // CLI's), kept beside it, and the cut is recorded.
    std::size_t cuts = 0, user_signed = 0;
    std::istringstream lines(transcript());
    for (std::string line; std::getline(lines, line);) {
      const auto entry = nlohmann::json::parse(line);
      if (entry["event"] == "transcript.unsealed-cut") {
        ++cuts;
        EXPECT_TRUE(std::filesystem::exists(ws_ / entry["data"]["copy"].get<std::string>())) << line;
      }
      if (entry["event"] == "user.signed" && entry["data"]["name"] == c.user) ++user_signed;
    }
    EXPECT_EQ(cuts, 1u);  // the first case's, recorded once and never again
    if (c.cut) {
      EXPECT_EQ(user_signed, 1u);
    }
    const RunResult doctor = hsmctl({"doctor"});
    EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
    EXPECT_NE(doctor.out.find("unsealed tail(s) were cut"), std::string::npos) << doctor.out;
    const RunResult v = hsmctl({"transcript", "verify"});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    const RunResult py = run_program({"/usr/bin/python3", "-B",
                                      std::string(HSMCTL_SOURCE_DIR) + "/scripts/verify-transcript",
                                      (ws_ / "transcript.jsonl").string()});
    EXPECT_EQ(py.code, 0) << py.out << py.err;
  }
}

// A batch checks its requests' factors and makes their signatures before it takes the
// workspace, from the rows read without the lock. A row changed in between (here the password,
// by `user passwd` while the worker is paused there) must not be trusted: under the lock the
// batch sees the row is not the one the work was done for and authenticates afresh, so the old
// password is refused (401, counted) and no signature leaves; the new one signs.
TEST_F(ServeBatch, ARowChangedWhileItsSignatureWasPreparedIsAuthenticatedAgainUnderTheLock) {
#ifndef HSMCTL_TEST_HOOKS
  GTEST_SKIP() << "needs HSMCTL_TEST_HOOKS (the ASan build of scripts/test has them)";
#endif
  const std::string fresh = "a-fresh-password-for-dave";
  ASSERT_EQ(hsmctl({"user", "create", "dave", "--algo", "p256", "--kdf-profile", "min",
                    "--password-source", "env:PW"}, {{"PW", kServePassword}}).code, 0);
  const std::filesystem::path gate = tmp_.path() / "prepared-gate";
  start(1, {"--user-rate", "0"}, {{"HSMCTL_PAUSE_AT", "serve.batch.prepared:" + gate.string()}});
  HttpAnswer a;
  std::thread client([&] { a = post("/v1/users/dave/sign", sign_body("old password")); });
  const std::filesystem::path reached = gate.string() + ".reached";
  for (int i = 0; i < 3000 && !std::filesystem::exists(reached); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!std::filesystem::exists(reached)) {
    // Let the client finish before failing: a joinable std::thread left behind would end the
    // test binary instead of reporting the failure.
    write_file("prepared-gate", "go");
    client.join();
    FAIL() << "the worker never reached the pause point";
  }
  // The worker holds no lock while paused: the CLI changes the password meanwhile.
  const RunResult passwd = hsmctl({"user", "passwd", "dave", "--password-source", "env:PW",
                                   "--new-password-source", "env:PW2"},
                                  {{"PW", kServePassword}, {"PW2", fresh}});
  write_file("prepared-gate", "go");
  client.join();
  ASSERT_EQ(passwd.code, 0) << passwd.err;
  EXPECT_EQ(a.status, 401) << a.body;
  EXPECT_EQ(a.body.find("\"signature\""), std::string::npos) << a.body;
  EXPECT_NE(a.body.find("wrong password"), std::string::npos) << a.body;
  const std::string log = transcript();
  EXPECT_EQ(log.find("\"event\":\"user.signed\""), std::string::npos);
  EXPECT_NE(log.find("\"event\":\"user.auth.failed\""), std::string::npos);
  // The new password signs, and the signature verifies.
  const HttpAnswer b = post("/v1/users/dave/sign", sign_body("new password", fresh));
  ASSERT_EQ(b.status, 200) << b.body;
  const HttpAnswer pub = get("/v1/users/dave/public-key");
  ASSERT_EQ(pub.status, 200) << pub.body;
  const auto pem = write_file("dave.pem", pub.body);
  const auto data = write_file("dave.txt", "new password");
  const auto sig64 = write_file("dave.sig.b64", b.json()["signature"].get<std::string>());
  const auto sig = tmp_.path() / "dave.sig";
  ASSERT_EQ(openssl({"base64", "-d", "-A", "-in", sig64.string(), "-out", sig.string()}).code, 0);
  EXPECT_EQ(openssl({"dgst", "-sha256", "-verify", pem.string(), "-signature", sig.string(),
                     data.string()}).code, 0);
  const RunResult doctor = hsmctl({"doctor"});
  EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
}

}  // namespace
}  // namespace hsm::test
