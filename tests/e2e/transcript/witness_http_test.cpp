// Witnesses over HTTP (C2SP tlog-witness): two `hsmctl witness serve` processes in their own
// directories cosign the log's checkpoints through `transcript checkpoint --witness`, first
// from size 0, then with a consistency proof from the size each last cosigned; curl, as a
// second client, gets the spec's statuses for a rollback, a proof from another size, a bad
// proof, an unknown origin, a checkpoint the log key did not sign and a malformed body, and
// the server keeps answering; a witness that refuses a fork or cannot be reached makes the
// command fail (4 or 1) after keeping the cosignatures that came; SIGTERM stops a server, 0.
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>

#include "support/forge.h"  // split_lines, join_lines
#include "support/hsm_fixture.h"
#include "support/live_process.h"

namespace hsm::test {
namespace {

namespace fs = std::filesystem;

struct HttpAnswer {
  int status = 0;
  std::string type, body;
};

class ServedWitness : public HsmTest {
 protected:
  void SetUp() override {
    write_file("ws/keystore.sqlite", "", 0600);  // a workspace: notes alone do not start one
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(note("note-" + std::to_string(i)).code, 0);
    const RunResult k = hsmctl({"transcript", "export-key", "--vkey"});
    ASSERT_EQ(k.code, 0) << k.err;
    log_vkey_ = write_file("log.vkey", k.out);
    origin_ = k.out.substr(0, k.out.find('+'));
    for (const std::string w : {"w1", "w2"}) {
      const RunResult r = hsmctl({"--dir", (tmp_.path() / w).string(), "witness", "init",
                                  "--name", w + ".example.org"});
      ASSERT_EQ(r.code, 0) << r.err;
      vkey_[w] = write_file(w + ".vkey", r.out);
    }
  }
  RunResult note(const std::string& text) {
    return hsmctl({"transcript", "note", "--witness", "carol", text});
  }
  // Starts `witness serve` for witness `w` on a free port; returns its URL.
  std::string serve(const std::string& w, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{HSMCTL_BINARY, "--dir", (tmp_.path() / w).string(), "witness",
                                  "serve", "--listen", "127.0.0.1:0", "--log-key",
                                  log_vkey_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_[w] = std::make_unique<LiveProcess>(argv, base_env(), false);
    LiveProcess& p = *server_[w];
    EXPECT_TRUE(p.wait_for("listening on 127.0.0.1:")) << p.shown();
    EXPECT_TRUE(p.wait_for("\n")) << p.shown();
    const std::string& shown = p.shown();
    const std::size_t at = shown.find("127.0.0.1:");
    return (extra.empty() ? "http://" : "https://") + shown.substr(at, shown.find('\n', at) - at);
  }
  // `transcript checkpoint --json` asking the witnesses named, each by its URL and key.
  RunResult checkpoint(const std::vector<std::pair<std::string, std::string>>& witnesses,
                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"--json", "transcript", "checkpoint"};
    for (const auto& [url, w] : witnesses) {
      args.insert(args.end(), {"--witness", url, "--witness-key", vkey_[w].string()});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  }
  RunResult verify(const fs::path& cp, int min) {
    return hsmctl({"transcript", "verify", "--checkpoint", cp.string(), "--log-key",
                   log_vkey_.string(), "--witness-key", vkey_["w1"].string(), "--witness-key",
                   vkey_["w2"].string(), "--min-cosigners", std::to_string(min)});
  }
  // POSTs `body` to URL/add-checkpoint with curl, a client that is not hsmctl.
  HttpAnswer post(const std::string& url, const std::string& body) {
    const auto f = write_file("body-" + std::to_string(++posts_), body);
    const RunResult r = run_program({"/usr/bin/curl", "-sS", "--max-time", "20", "--data-binary",
                                     "@" + f.string(), "-w", "\n%{http_code} %{content_type}",
                                     url + "/add-checkpoint"});
    EXPECT_EQ(r.code, 0) << r.err;
    HttpAnswer a;
    const std::size_t last = r.out.rfind('\n');
    if (last == std::string::npos) return a;
    a.body = r.out.substr(0, last);
    const std::string tail = r.out.substr(last + 1);
    a.status = std::stoi(tail.substr(0, tail.find(' ')));
    a.type = tail.substr(tail.find(' ') + 1);
    return a;
  }
  std::string kept(std::uint64_t size) {
    return read_file(ws_ / "tlog" / "checkpoints" / std::to_string(size));
  }
  static std::size_t signatures(const std::string& note) {
    std::size_t n = 0;
    for (std::size_t at = note.find("\n\xE2\x80\x94 "); at != std::string::npos;
         at = note.find("\n\xE2\x80\x94 ", at + 1))
      ++n;
    return n;
  }
  std::string proof(std::uint64_t a, std::uint64_t b) {
    const RunResult r = hsmctl({"transcript", "prove", "--consistency", std::to_string(a),
                                std::to_string(b)});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out.substr(r.out.find('\n') + 1);  // the hashes, without the "old A" line
  }
  // Stops a server with SIGTERM; returns how it ended.
  RunResult stop(const std::string& w) {
    server_[w]->signal(SIGTERM);
    return server_[w]->finish(std::chrono::seconds(30));
  }

  fs::path log_vkey_;
  std::string origin_;
  std::map<std::string, fs::path> vkey_;
  std::map<std::string, std::unique_ptr<LiveProcess>> server_;
  int posts_ = 0;
};

TEST_F(ServedWitness, TwoServersCosignFromScratchThenWithAConsistencyProof) {
  const std::string u1 = serve("w1"), u2 = serve("w2");
  const RunResult first = checkpoint({{u1, "w1"}, {u2, "w2"}});
  ASSERT_EQ(first.code, 0) << first.err;
  const auto doc = first.json();
  const std::uint64_t size = doc["size"];
  ASSERT_EQ(doc["witnesses"].size(), 2u);
  for (const auto& w : doc["witnesses"]) {
    EXPECT_TRUE(w["ok"]) << w;
    EXPECT_EQ(w["status"], 200);
    EXPECT_EQ(w["old_size"], 0);
  }
  EXPECT_EQ(signatures(read_file(ws_ / "tlog" / "checkpoint")), 3u);  // the log's and two
  EXPECT_EQ(signatures(doc["checkpoint"].get<std::string>()), 3u);
  const RunResult ok = verify(ws_ / "tlog" / "checkpoints" / std::to_string(size), 2);
  EXPECT_EQ(ok.code, 0) << ok.err;

  // More ceremonies: each witness now gets a proof from the size it cosigned.
  ASSERT_EQ(note("note-4").code, 0);
  ASSERT_EQ(note("note-5").code, 0);
  const RunResult second = checkpoint({{u1, "w1"}, {u2, "w2"}});
  ASSERT_EQ(second.code, 0) << second.err;
  const auto doc2 = second.json();
  const std::uint64_t size2 = doc2["size"];
  EXPECT_GT(size2, size);
  for (const auto& w : doc2["witnesses"]) {
    EXPECT_TRUE(w["ok"]) << w;
    EXPECT_EQ(w["old_size"], size);
  }
  const fs::path cp2 = write_file("cp2", kept(size2));
  EXPECT_EQ(signatures(read_file(cp2)), 3u);
  EXPECT_EQ(verify(cp2, 2).code, 0);

  const RunResult st = hsmctl({"--dir", (tmp_.path() / "w2").string(), "--json", "witness",
                               "status", "--origin", origin_});
  EXPECT_EQ(st.json()["size"], size2);
  const RunResult end = stop("w1");
  EXPECT_EQ(end.code, 0) << end.err;
  EXPECT_NE(end.err.find(fmt::format("origin {} old {} size {}: 200 cosigned", origin_, size,
                                     size2)), std::string::npos) << end.err;
  EXPECT_EQ(end.err.find("hsmctl: error"), std::string::npos) << end.err;
  EXPECT_EQ(stop("w2").code, 0);
}

TEST_F(ServedWitness, AClientThatForgotTheSizeIsToldItBy409AndRetries) {
  const std::string u1 = serve("w1");
  const RunResult first = checkpoint({{u1, "w1"}});
  ASSERT_EQ(first.code, 0) << first.err;
  const std::uint64_t size = first.json()["size"];
  fs::remove_all(ws_ / "tlog" / "witnesses");  // the log no longer knows what w1 cosigned
  ASSERT_EQ(note("note-4").code, 0);
  const RunResult again = checkpoint({{u1, "w1"}});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["witnesses"][0]["old_size"], size);
  EXPECT_TRUE(again.json()["witnesses"][0]["ok"]);
}

TEST_F(ServedWitness, CurlGetsTheSpecStatusesAndTheServerKeepsAnswering) {
  const std::string u1 = serve("w1");
  const RunResult first = checkpoint({{u1, "w1"}});
  ASSERT_EQ(first.code, 0) << first.err;
  const std::uint64_t n = first.json()["size"];
  const std::string small = kept(10);  // the checkpoint the ceremonies of SetUp made
  ASSERT_EQ(note("note-4").code, 0);
  const RunResult grown = hsmctl({"--json", "transcript", "checkpoint"});
  ASSERT_EQ(grown.code, 0) << grown.err;
  const std::uint64_t m = grown.json()["size"];
  const std::string big = kept(m);

  // A rollback: an old size that is not the one cosigned gets 409 and that size ...
  HttpAnswer a = post(u1, "old 0\n\n" + small);
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.type, "text/x.tlog.size");
  EXPECT_EQ(a.body, std::to_string(n) + "\n");
  // ... and the size cosigned as old size, larger than the checkpoint's, is a bad request.
  EXPECT_EQ(post(u1, fmt::format("old {}\n\n", n) + small).status, 400);
  // A proof from another size: 409 with the size cosigned.
  a = post(u1, fmt::format("old {}\n{}\n", n - 1, proof(n - 1, m)) + big);
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.body, std::to_string(n) + "\n");
  // A proof that does not link the two checkpoints: 422.
  a = post(u1, fmt::format("old {}\n{}\n", n, proof(n - 1, m)) + big);
  EXPECT_EQ(a.status, 422) << a.body;
  // A log the witness does not serve: 404.
  std::string foreign = big;
  foreign.replace(0, origin_.size(), "example.com/other-log");
  EXPECT_EQ(post(u1, fmt::format("old {}\n{}\n", n, proof(n, m)) + foreign).status, 404);
  // A checkpoint the log key did not sign (its size changed): 403.
  std::string forged = big;
  forged.replace(forged.find(fmt::format("\n{}\n", m)), std::to_string(m).size() + 2,
                 fmt::format("\n{}\n", m + 1));
  EXPECT_EQ(post(u1, fmt::format("old {}\n\n", n) + forged).status, 403);
  // Not a request at all: 400; a proof line that is not a hash: 400; a leading zero: 400.
  EXPECT_EQ(post(u1, "hello\n").status, 400);
  EXPECT_EQ(post(u1, fmt::format("old {}\nnot-a-hash\n\n", n) + big).status, 400);
  EXPECT_EQ(post(u1, fmt::format("old 0{}\n\n", n) + big).status, 400);

  // After all that, the honest request is cosigned.
  a = post(u1, fmt::format("old {}\n{}\n", n, proof(n, m)) + big);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body.rfind("\xE2\x80\x94 w1.example.org ", 0), 0u) << a.body;
  EXPECT_EQ(a.body.back(), '\n');
  const RunResult end = stop("w1");
  EXPECT_EQ(end.code, 0) << end.err;
  EXPECT_NE(end.err.find(": 422 bad-proof"), std::string::npos) << end.err;
  EXPECT_NE(end.err.find(": 404 unknown-origin"), std::string::npos) << end.err;
  EXPECT_NE(end.err.find(": 403 not-signed"), std::string::npos) << end.err;
  EXPECT_NE(end.err.find(fmt::format("old {} size {}: 200 cosigned", n, m)), std::string::npos);
}

TEST_F(ServedWitness, AForkIsRefusedAndTheCommandExitsFour) {
  const std::string u1 = serve("w1"), u2 = serve("w2");
  ASSERT_EQ(checkpoint({{u1, "w1"}, {u2, "w2"}}).code, 0);
  // The insider with the PIN rewrites the log from entry 7 on; hsmctl re-signs with the token.
  auto lines = split_lines(read_file(ws_ / "transcript.jsonl"));
  lines.resize(7);
  std::ofstream(ws_ / "transcript.jsonl", std::ios::trunc) << join_lines(lines);
  fs::remove_all(ws_ / "tlog");
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(note("other-" + std::to_string(i)).code, 0);
  const RunResult r = checkpoint({{u1, "w1"}, {u2, "w2"}}, {"--min-cosigners", "1"});
  expect_failure(r, 4, "0 of 2 witnesses cosigned");
  EXPECT_NE(r.err.find("hsmctl: witness w1.example.org (" + u1 + ") did not cosign"),
            std::string::npos) << r.err;
  EXPECT_FALSE(r.json()["witnesses"][0]["ok"]);
  EXPECT_EQ(signatures(read_file(ws_ / "tlog" / "checkpoint")), 1u);
  EXPECT_TRUE(fs::exists(tmp_.path() / "w1" / "evidence"));
}

TEST_F(ServedWitness, AnUnreachableWitnessIsExitOneAfterKeepingTheOthers) {
  const std::string u1 = serve("w1"), u2 = serve("w2");
  ASSERT_EQ(stop("w2").code, 0);  // w2's port is closed now
  const RunResult r = checkpoint({{u1, "w1"}, {u2, "w2"}});
  expect_failure(r, 1, "1 of 2 witnesses cosigned");
  EXPECT_NE(r.err.find("w2.example.org (" + u2 + ") did not cosign: cannot reach it"),
            std::string::npos) << r.err;
  EXPECT_EQ(signatures(read_file(ws_ / "tlog" / "checkpoint")), 2u);  // w1's is kept
  // One is enough when the operator says so.
  ASSERT_EQ(note("note-4").code, 0);
  const RunResult one = checkpoint({{u1, "w1"}, {u2, "w2"}}, {"--min-cosigners", "1"});
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.err.find("w2.example.org"), std::string::npos);
}

TEST_F(ServedWitness, ACosignatureUnderAnotherKeyIsNotKeptAndIsExitFour) {
  const std::string u1 = serve("w1");
  // w1 answers, but the log was told to expect w2's key at that URL.
  const RunResult r = checkpoint({{u1, "w2"}});
  expect_failure(r, 4, "0 of 1 witnesses cosigned");
  EXPECT_NE(r.err.find("no cosignature of this checkpoint that verifies under its key"),
            std::string::npos) << r.err;
  EXPECT_EQ(signatures(read_file(ws_ / "tlog" / "checkpoint")), 1u);
}

TEST_F(ServedWitness, HttpsWithTheWitnessCertificateTrustedByWitnessCa) {
  const fs::path cert = tmp_.path() / "w1.crt", key = tmp_.path() / "w1.key";
  const RunResult made = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                                  "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                                  "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                  "-keyout", key.string(), "-out", cert.string()});
  ASSERT_EQ(made.code, 0) << made.err;
  const std::string u1 = serve("w1", {"--tls-cert", cert.string(), "--tls-key", key.string()});
  ASSERT_EQ(u1.rfind("https://127.0.0.1:", 0), 0u) << u1;
  // A certificate no system authority signed: not reached, exit 1 ...
  const RunResult untrusted = checkpoint({{u1, "w1"}});
  expect_failure(untrusted, 1, "0 of 1 witnesses cosigned");
  // ... and cosigned once the log trusts that certificate.
  const RunResult ok = checkpoint({{u1, "w1"}}, {"--witness-ca", cert.string()});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(ok.json()["witnesses"][0]["ok"]);
  EXPECT_EQ(signatures(read_file(ws_ / "tlog" / "checkpoint")), 2u);
  EXPECT_EQ(stop("w1").code, 0);
}

}  // namespace
}  // namespace hsm::test
