// The fallbacks of docs/design.md ("Which tokens can keep the contract"), each forced by a
// profile of the mechanism-profile shim (tests/profileshim): token check names the fallback,
// and the full flow (master init, user create + TOTP + sign, group create + sign, backup,
// restore and clone onto a plain SoftHSM token, transcript verify) runs through it, every
// signature checked by stock OpenSSL; the method is in the keystore, the transcript and the
// backup. A token that cannot do a workspace's recorded method is refused before any change.
#include <nlohmann/json.hpp>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class Fallback : public HsmTest {
 protected:
  std::map<std::string, std::string> through(const std::string& profile) const {
    return {{"HSMCTL_MODULE", profile_shim_module()}, {"HSMCTL_PROFILE", profile},
            {"PW_alice", "password of alice"}, {"PW_bob", "password of bob"}};
  }
  std::string path(const std::string& name) const { return (tmp_.path() / name).string(); }
  std::string shares_of(const std::vector<std::string>& who) {
    std::string content;
    for (const auto& w : who) content += read_file(tmp_.path() / "shares" / (w + ".share"));
    return write_file("two", content).string();
  }
  std::string objects_on(const std::string& token) {
    return hsmctl({"--token", token, "token", "objects", "--json"}).out;
  }
  void verified(const std::string& pem, const std::string& sig, const std::string& data) {
    const RunResult v = openssl({"dgst", "-sha256", "-verify", path(pem), "-signature", path(sig),
                                 data});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
  }
  std::string totp(const std::string& seed) {
    return run_program({"/usr/bin/oathtool", "--totp", "-b", seed}).out.substr(0, 6);
  }

  // The whole flow through `profile`; `method` is the KEK derivation it must choose.
  void full_flow(const std::string& profile, const std::string& method) {
    const auto env = through(profile);
    const auto run = [&](const std::vector<std::string>& args) { return hsmctl(args, env); };
    const std::string data = write_file("data.txt", "signed through a fallback\n", 0644).string();

    make_private_dir(tmp_.path() / "shares");
    const RunResult init = run({"--json", "master", "init", "--threshold", "2", "--custodians",
                                "a,b,c", "--shares-out", path("shares")});
    ASSERT_EQ(init.code, 0) << init.err;
    EXPECT_EQ(init.json()["kek_derivation"], method);
    EXPECT_EQ(run({"--json", "master", "status"}).json()["kek_derivation"], method);
    const std::string transcript = read_file(ws_ / "transcript.jsonl");
    EXPECT_NE(transcript.find("\"kek_derivation\":\"" + method + "\""), std::string::npos);

    // A user with a TOTP seed signs; openssl checks the signature.
    ASSERT_EQ(run({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                   "env:PW_alice"}).code, 0);
    const RunResult enrolled = run({"user", "otp-enroll", "alice", "--password-source",
                                    "env:PW_alice", "--show-secret"});
    ASSERT_EQ(enrolled.code, 0) << enrolled.err;
    const size_t at = enrolled.out.find("secret=");
    ASSERT_NE(at, std::string::npos) << enrolled.out;
    const std::string seed = enrolled.out.substr(at + 7, enrolled.out.find('&', at) - at - 7);
    const RunResult signed_by_alice =
        run({"user", "sign", "alice", "--in", data, "--out", path("alice.sig"),
             "--password-source", "env:PW_alice", "--otp", totp(seed)});
    ASSERT_EQ(signed_by_alice.code, 0) << signed_by_alice.err;
    ASSERT_EQ(run({"user", "export-public", "alice", "--out", path("alice.pem")}).code, 0);
    verified("alice.pem", "alice.sig", data);

    // A group of two; bob signs for it.
    ASSERT_EQ(run({"user", "create", "bob", "--kdf-profile", "min", "--password-source",
                   "env:PW_bob"}).code, 0);
    const RunResult group = run({"group", "create", "ops", "--members", "alice,bob"});
    ASSERT_EQ(group.code, 0) << group.err;
    const RunResult group_signed = run({"group", "sign", "ops", "--as", "bob", "--in", data,
                                        "--out", path("ops.sig"), "--password-source",
                                        "env:PW_bob"});
    ASSERT_EQ(group_signed.code, 0) << group_signed.err;
    ASSERT_EQ(run({"group", "export-public", "ops", "--out", path("ops.pem")}).code, 0);
    verified("ops.pem", "ops.sig", data);

    // The backup records the method; restored onto a plain SoftHSM token, bob and the group
    // sign there.
    const RunResult backup = run({"backup", "create", "--out", path("site.hsmbk"),
                                  "--shares-file", shares_of({"a", "c"})});
    ASSERT_EQ(backup.code, 0) << backup.err;
    EXPECT_NE(read_file(path("site.hsmbk")).find("\"kek_derivation\":\"" + method + "\""),
              std::string::npos);
    hsm_.init_token("B");
    const std::map<std::string, std::string> plain = {{"PW_bob", "password of bob"}};
    const RunResult restored_master =
        hsmctl({"--token", "B", "master", "restore", "--shares-file", shares_of({"a", "b"})}, plain);
    ASSERT_EQ(restored_master.code, 0) << restored_master.err;
    const RunResult restored = hsmctl({"--token", "B", "backup", "restore", path("site.hsmbk"),
                                       "--shares-file", shares_of({"b", "c"})}, plain);
    ASSERT_EQ(restored.code, 0) << restored.err;
    const RunResult bob_on_b = hsmctl({"--token", "B", "user", "sign", "bob", "--in", data,
                                       "--out", path("bob.sig"), "--password-source",
                                       "env:PW_bob"}, plain);
    ASSERT_EQ(bob_on_b.code, 0) << bob_on_b.err;
    ASSERT_EQ(hsmctl({"user", "export-public", "bob", "--out", path("bob.pem")}).code, 0);
    verified("bob.pem", "bob.sig", data);
    const RunResult group_on_b = hsmctl({"--token", "B", "group", "sign", "ops", "--as", "bob",
                                         "--in", data, "--out", path("ops-b.sig"),
                                         "--password-source", "env:PW_bob"}, plain);
    ASSERT_EQ(group_on_b.code, 0) << group_on_b.err;
    verified("ops.pem", "ops-b.sig", data);

    // And cloned onto another plain token in one ceremony.
    hsm_.init_token("C");
    const RunResult cloned = hsmctl({"clone", "--from-token", "test", "--to-token", "C",
                                     "--shares-file", shares_of({"a", "b"})});
    ASSERT_EQ(cloned.code, 0) << cloned.err;
    const RunResult bob_on_c = hsmctl({"--token", "C", "user", "sign", "bob", "--in", data,
                                       "--out", path("bob-c.sig"), "--password-source",
                                       "env:PW_bob"}, plain);
    ASSERT_EQ(bob_on_c.code, 0) << bob_on_c.err;
    verified("bob.pem", "bob-c.sig", data);

    const RunResult verify = hsmctl({"transcript", "verify", "--strict"});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  }
};

TEST_F(Fallback, TokenCheckShowsTheHmacKekFallbackWhereEcbDerivationIsMissing) {
  const auto env = through(shipped_profile("no-ecb-encrypt-data"));
  const RunResult r = hsmctl({"--json", "token", "check"}, env);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::map<std::string, nlohmann::json> f;
  const nlohmann::json doc = r.json();
  for (const auto& feature : doc["features"]) f[feature["id"].get<std::string>()] = feature;
  EXPECT_EQ(f["kek-derive"]["status"], "fallback");
  EXPECT_EQ(f["kek-derive"]["fallback"], "hmac-sha256");
  EXPECT_EQ(f["ecdh"]["status"], "fallback");
  EXPECT_EQ(f["aes-gcm"]["status"], "supported");
  const RunResult text = hsmctl({"token", "check"}, env);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("supported through a fallback (hmac-sha256)"), std::string::npos)
      << text.out;
}

TEST_F(Fallback, FullFlowWithTheHmacKekFallback) {
  full_flow(shipped_profile("no-ecb-encrypt-data"), "hmac-sha256");
}

TEST_F(Fallback, TokenCheckShowsImportByUnwrappingWhereCreateObjectOfSecretKeysIsRefused) {
  const RunResult r = hsmctl({"--json", "token", "check"},
                             through(shipped_profile("unwrap-only-import")));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const nlohmann::json doc = r.json();
  std::map<std::string, nlohmann::json> f;
  for (const auto& feature : doc["features"]) f[feature["id"].get<std::string>()] = feature;
  EXPECT_EQ(f["master-keys"]["status"], "fallback");
  EXPECT_EQ(f["master-keys"]["fallback"], "unwrap-import");
  EXPECT_EQ(f["kek-derive"]["status"], "supported");
}

TEST_F(Fallback, FullFlowWithImportByUnwrapping) {
  full_flow(shipped_profile("unwrap-only-import"), "aes-ecb");
}

// The master keys unwrapped under a transport key have exactly the attributes of the ones
// C_CreateObject makes: every attribute token objects reports, but the id and the check value.
TEST_F(Fallback, MasterKeysImportedByUnwrappingHaveTheAttributesOfCreatedOnes) {
  const auto master_keys_on = [&](const std::string& token) {
    std::map<std::string, nlohmann::json> out;
    const nlohmann::json doc = hsmctl({"--token", token, "token", "objects", "--json"}).json();
    for (auto o : doc["objects"]) {
      const std::string label = o["label"];
      if (label.rfind("hsmctl-mk-", 0) != 0) continue;
      o.erase("id");
      o.erase("check_value");
      o.erase("kcv");
      o.erase("handle");
      out[label] = o;
    }
    return out;
  };
  make_private_dir(tmp_.path() / "shares");
  ASSERT_EQ(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                    "--shares-out", path("shares")}).code, 0);
  hsm_.init_token("U");
  auto env = through(shipped_profile("unwrap-only-import"));
  env["HSMCTL_TOKEN"] = "U";
  const RunResult restored =
      hsmctl({"master", "restore", "--shares-file", shares_of({"a", "b"})}, env);
  ASSERT_EQ(restored.code, 0) << restored.err;
  const auto created = master_keys_on("test"), unwrapped = master_keys_on("U");
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(unwrapped, created);
  // Nothing else was left on U: the transport pair was a pair of session objects.
  const nlohmann::json u = hsmctl({"--token", "U", "token", "objects", "--json"}).json();
  for (const auto& o : u["objects"])
    EXPECT_NE(o["key_type"], "rsa") << o.dump();
}

TEST_F(Fallback, TokenCheckShowsHostGcmWhereTheTokenHasNoGcm) {
  const RunResult r = hsmctl({"--json", "token", "check"}, through(shipped_profile("no-gcm")));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const nlohmann::json doc = r.json();
  std::map<std::string, nlohmann::json> f;
  for (const auto& feature : doc["features"]) f[feature["id"].get<std::string>()] = feature;
  EXPECT_EQ(f["aes-gcm"]["status"], "fallback");
  EXPECT_EQ(f["aes-gcm"]["fallback"], "host-aes-gcm");
  EXPECT_EQ(f["kek-derive"]["status"], "supported");
}

// Blobs sealed on the host open on a token with GCM (the full flow restores onto plain SoftHSM
// tokens), and blobs the token sealed open on the host.
TEST_F(Fallback, FullFlowWithAesGcmOnTheHost) { full_flow(shipped_profile("no-gcm"), "aes-ecb"); }

TEST_F(Fallback, BlobsSealedByTheTokenOpenWithHostGcm) {
  make_private_dir(tmp_.path() / "shares");
  ASSERT_EQ(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                    "--shares-out", path("shares")}).code, 0);
  const std::map<std::string, std::string> pw = {{"PW_alice", "password of alice"}};
  ASSERT_EQ(hsmctl({"user", "create", "alice", "--kdf-profile", "min", "--password-source",
                    "env:PW_alice"}, pw).code, 0);
  const std::string data = write_file("data.txt", "sealed by the token\n", 0644).string();
  const RunResult signed_there = hsmctl({"user", "sign", "alice", "--in", data, "--out",
                                         path("alice.sig"), "--password-source", "env:PW_alice"},
                                        through(shipped_profile("no-gcm")));
  ASSERT_EQ(signed_there.code, 0) << signed_there.err;
  ASSERT_EQ(hsmctl({"user", "export-public", "alice", "--out", path("alice.pem")}).code, 0);
  verified("alice.pem", "alice.sig", data);
  // A wrong password is still an authentication failure, not a general error.
  auto wrong = through(shipped_profile("no-gcm"));
  wrong["PW_alice"] = "not the password";
  expect_failure(hsmctl({"user", "sign", "alice", "--in", data, "--out", path("x.sig"),
                         "--password-source", "env:PW_alice"}, wrong), 3, "");
}

TEST_F(Fallback, MasterInitTakesTheHmacMethodWhenAskedAndSoftHsmKeepsAesEcbByDefault) {
  make_private_dir(tmp_.path() / "shares");
  const RunResult r = hsmctl({"--json", "master", "init", "--threshold", "2", "--custodians",
                              "a,b,c", "--shares-out", path("shares")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["kek_derivation"], "aes-ecb");

  TempDir other;
  make_private_dir(other.path() / "shares");
  hsm_.init_token("H");
  const RunResult h = hsmctl({"--json", "--token", "H", "--dir", (other.path() / "ws").string(),
                              "master", "init", "--threshold", "2", "--custodians", "a,b,c",
                              "--kek-derivation", "hmac-sha256", "--shares-out",
                              (other.path() / "shares").string()});
  ASSERT_EQ(h.code, 0) << h.err;
  EXPECT_EQ(h.json()["kek_derivation"], "hmac-sha256");
}

TEST_F(Fallback, AnHmacMasterIsRefusedOnATokenWithoutHmacBeforeAnythingChanges) {
  const auto env = through(shipped_profile("no-ecb-encrypt-data"));
  make_private_dir(tmp_.path() / "shares");
  ASSERT_EQ(hsmctl({"master", "init", "--threshold", "2", "--custodians", "a,b,c",
                    "--shares-out", path("shares")}, env).code, 0);
  const RunResult backup = hsmctl({"backup", "create", "--out", path("site.hsmbk"),
                                   "--shares-file", shares_of({"a", "c"})});
  ASSERT_EQ(backup.code, 0) << backup.err;
  hsm_.init_token("N");
  const std::string before = objects_on("N");
  auto no_hmac = through(shipped_profile("no-hmac"));
  no_hmac["HSMCTL_TOKEN"] = "N";
  expect_failure(hsmctl({"master", "restore", "--shares-file", shares_of({"a", "b"})}, no_hmac),
                 6, "cannot derive keys by hmac-sha256");
  EXPECT_EQ(objects_on("N"), before);
  expect_failure(hsmctl({"clone", "--from-token", "test", "--to-token", "N", "--shares-file",
                         shares_of({"a", "b"})}, no_hmac),
                 6, "C_Sign CKM_SHA256_HMAC: CKR_MECHANISM_INVALID");
  EXPECT_EQ(objects_on("N"), before);
}

}  // namespace
}  // namespace hsm::test
