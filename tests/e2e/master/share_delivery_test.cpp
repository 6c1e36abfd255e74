// Shares handed out as printed cards and as OpenPGP messages (master init and reshare --cards,
// --encrypt-to): read back with stock tools (pdftoppm + zbarimg, gpg), they restore the master
// on another token; bad delivery options are refused before the token is touched.
#include <sys/stat.h>

#include "support/hsm_fixture.h"

namespace hsm::test {
namespace {

class ShareDelivery : public HsmTest {
 protected:
  void SetUp() override {
    gnupg_ = tmp_.path() / "gnupg";
    make_private_dir(gnupg_);
    const RunResult k = gpg({"--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                             "--quick-gen-key", "Ann <ann@example.org>", "future-default",
                             "default", "never"});
    ASSERT_EQ(k.code, 0) << k.err;
    const RunResult e = gpg({"--armor", "--export", "ann@example.org"});
    ASSERT_EQ(e.code, 0) << e.err;
    ann_key_ = write_file("ann.asc", e.out, 0644);
    const RunResult f = gpg({"--with-colons", "--fingerprint", "ann@example.org"});
    const auto at = f.out.find("\nfpr:");
    ASSERT_NE(at, std::string::npos);
    const std::string line = f.out.substr(at + 1, f.out.find('\n', at + 1) - at - 1);
    ann_fpr_ = line.substr(line.rfind(':', line.size() - 2) + 1);
    ann_fpr_.pop_back();
    shares_ = tmp_.path() / "shares";
    cards_ = tmp_.path() / "cards";
    make_private_dir(shares_);
    make_private_dir(cards_);
  }
  void TearDown() override { gpg({"--kill", "all"}, "gpgconf"); }

  RunResult gpg(const std::vector<std::string>& args, const std::string& tool = "gpg") {
    std::vector<std::string> argv{"/usr/bin/" + tool};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, {{"GNUPGHOME", gnupg_.string()}});
  }
  // The share on `name`'s card, as zbarimg reads the QR code of the rendered page.
  std::string card_share(const std::string& name) {
    const std::string png = (tmp_.path() / name).string();
    const RunResult r = run_program({"/usr/bin/pdftoppm", "-r", "150", "-png", "-singlefile",
                                     (cards_ / (name + ".pdf")).string(), png});
    EXPECT_EQ(r.code, 0) << r.err;
    const RunResult z = run_program({"/usr/bin/zbarimg", "--raw", "-q", png + ".png"});
    EXPECT_EQ(z.code, 0) << z.err;
    std::string s = z.out;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  std::string decrypted_share(const std::string& name) {
    const RunResult r = gpg({"--batch", "--decrypt", (shares_ / (name + ".share.asc")).string()});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  static unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
  }

  std::filesystem::path gnupg_, shares_, cards_, ann_key_;
  std::string ann_fpr_;
};

TEST_F(ShareDelivery, CardsAndAnOpenPgpMessageRestoreTheMasterOnAnotherToken) {
  const RunResult r = hsmctl({"master", "init", "--threshold", "2", "--custodians", "ann,bob,cy",
                              "--cards", cards_.string(), "--shares-out", shares_.string(),
                              "--encrypt-to", "ann=" + ann_key_.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = r.json();
  EXPECT_EQ(doc["delivery"]["ann"]["openpgp"], ann_fpr_);
  EXPECT_EQ(doc["delivery"]["bob"], "card");
  EXPECT_EQ(doc["delivery"]["cy"], "card");
  // Exactly one copy each: ann by mail, bob and cy on paper.
  EXPECT_EQ(mode_of(shares_ / "ann.share.asc"), 0600u);
  EXPECT_EQ(mode_of(cards_ / "bob.pdf"), 0600u);
  EXPECT_EQ(mode_of(cards_ / "cy.pdf"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(cards_ / "ann.pdf"));
  EXPECT_FALSE(std::filesystem::exists(shares_ / "bob.share"));
  const std::string transcript = read_file(ws_ / "transcript.jsonl");
  EXPECT_NE(transcript.find("\"delivery\":{\"ann\":{\"openpgp\":\"" + ann_fpr_ +
                            "\"},\"bob\":\"card\",\"cy\":\"card\"}"),
            std::string::npos);

  // The card's words (pdftotext) are the QR code's.
  const RunResult text = run_program({"/usr/bin/pdftotext", "-layout", (cards_ / "bob.pdf").string(), "-"});
  ASSERT_EQ(text.code, 0);
  const std::string bob = card_share("bob");
  const std::string first_word = bob.substr(0, bob.find(' '));
  EXPECT_NE(text.out.find(" 1. " + first_word), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(doc["kcv"].get<std::string>()), std::string::npos);

  // ann's message and bob's card restore the master on token B.
  hsm_.init_token("B");
  const auto in = write_file("in", decrypted_share("ann") + "\n" + bob + "\n");
  const RunResult restored =
      hsmctl({"--token", "B", "master", "restore", "--shares-file", in.string(), "--json"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  EXPECT_EQ(restored.json()["kcv"], doc["kcv"]);
}

TEST_F(ShareDelivery, ReshareHandsOutCardsOfTheNewSet) {
  ASSERT_EQ(hsmctl({"master", "init", "--threshold", "2", "--custodians", "ann,bob,cy",
                    "--shares-out", shares_.string()}).code, 0);
  const auto in = write_file("in", read_file(shares_ / "ann.share") + read_file(shares_ / "bob.share"));
  const RunResult r = hsmctl({"master", "reshare", "--threshold", "2", "--custodians", "dee,eve",
                              "--shares-file", in.string(), "--cards", cards_.string(),
                              "--paper", "letter", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["delivery"]["dee"], "card");
  const RunResult info = run_program({"/usr/bin/pdfinfo", (cards_ / "dee.pdf").string()});
  EXPECT_NE(info.out.find("612 x 792 pts (letter)"), std::string::npos) << info.out;
  const auto check = write_file("dee", card_share("dee") + "\n");
  const RunResult v = hsmctl({"master", "verify-share", "--share-file", check.string(), "--json"});
  EXPECT_EQ(v.code, 0) << v.err;
}

TEST_F(ShareDelivery, BadDeliveryOptionsAreRefusedBeforeTheTokenIsTouched) {
  const std::vector<std::string> base{"master", "init", "--threshold", "2", "--custodians",
                                      "ann,bob,cy"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmctl(args);
  };
  const std::string key = "ann=" + ann_key_.string();
  expect_failure(with({"--cards", cards_.string(), "--encrypt-to", key}), 2, "--shares-out");
  expect_failure(with({"--shares-out", shares_.string(), "--encrypt-to", "zed=" + ann_key_.string()}),
                 2, "not one of the custodians");
  expect_failure(with({"--shares-out", shares_.string(), "--encrypt-to", "ann"}), 2,
                 "CUSTODIAN=KEYFILE");
  expect_failure(with({"--shares-out", shares_.string(), "--encrypt-to",
                       "ann=" + (tmp_.path() / "none.asc").string()}), 7, "not found");
  const auto junk = write_file("junk.asc", "not a key\n");
  expect_failure(with({"--shares-out", shares_.string(), "--encrypt-to", "ann=" + junk.string()}),
                 2, "holds 0 keys");
  expect_failure(with({"--cards", cards_.string(), "--paper", "a3"}), 2, "paper size");
  const auto open_dir = tmp_.path() / "open";
  std::filesystem::create_directory(open_dir);
  std::filesystem::permissions(open_dir, std::filesystem::perms(0755));
  expect_failure(with({"--cards", open_dir.string()}), 1, "open to group or others");
  write_file("cards/bob.pdf", "old card");
  expect_failure(with({"--cards", cards_.string()}), 7, "already exists");
  // Nothing was made: no master on the token or in the workspace, no new file.
  EXPECT_FALSE(std::filesystem::exists(ws_ / "keystore.sqlite"));
  const RunResult objects = hsmctl({"token", "objects", "--json"});
  ASSERT_EQ(objects.code, 0) << objects.err;
  EXPECT_TRUE(objects.json()["objects"].empty());
  EXPECT_FALSE(std::filesystem::exists(cards_ / "ann.pdf"));
  EXPECT_TRUE(std::filesystem::is_empty(shares_));
}

}  // namespace
}  // namespace hsm::test
