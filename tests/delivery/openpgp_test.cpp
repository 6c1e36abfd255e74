// A share encrypted by encrypt_to_key_file decrypts with stock gpg in the custodian's own GnuPG
// home; key files that cannot be a custodian's key are refused by name.
#include "core/delivery/openpgp.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace hsm::delivery {
namespace {

namespace fs = std::filesystem;

class OpenPgpDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "hsmctl-pgp-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    home_ = dir_ / "custodian-home";
    fs::create_directory(home_);
    fs::permissions(home_, fs::perms::owner_all, fs::perm_options::replace);
  }
  void TearDown() override {
    gpg("gpgconf --kill all");
    fs::remove_all(dir_);
  }

  // Runs `cmd` with the custodian's GnuPG home; its standard output, and its exit status.
  std::string gpg(const std::string& cmd, int* status_out = nullptr) {
    const std::string full = "GNUPGHOME=" + home_.string() + " " + cmd + " 2>/dev/null";
    std::string out;
    FILE* p = ::popen(full.c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    if (status_out != nullptr) *status_out = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }
  void make_key(const std::string& uid, const std::string& algo, const std::string& usage) {
    int status = 1;
    gpg("gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key '" + uid + "' " +
            algo + " " + usage + " never",
        &status);
    ASSERT_EQ(status, 0) << "gpg could not make a test key";
  }
  fs::path export_to(const std::string& name, const std::string& what = "--export") {
    const fs::path p = dir_ / name;
    int status = 1;
    gpg("gpg --batch --pinentry-mode loopback --passphrase '' --armor " + what + " > " +
            p.string(),
        &status);
    EXPECT_EQ(status, 0);
    return p;
  }
  std::string fingerprint_of(const std::string& uid) {
    const std::string colons = gpg("gpg --with-colons --fingerprint '" + uid + "'");
    const auto at = colons.find("\nfpr:");
    if (at == std::string::npos) return {};
    const auto line_end = colons.find('\n', at + 1);
    const std::string line = colons.substr(at + 1, line_end - at - 1);
    // fpr:::::::::FINGERPRINT:
    const auto last = line.rfind(':', line.size() - 2);
    return line.substr(last + 1, line.size() - last - 2);
  }

  fs::path dir_, home_;
};

TEST_F(OpenPgpDeliveryTest, StockGpgDecryptsTheShareWithTheCustodiansKey) {
  make_key("Ann Custodian <ann@example.org>", "future-default", "default");
  const fs::path key = export_to("ann.asc");
  const std::string share = "academic acid acne acquire acrobat activity actress adapt";
  // The throwaway GnuPG home goes under TMPDIR: here, a directory of this test's own.
  const fs::path tmp = dir_ / "tmp";
  fs::create_directory(tmp);
  ::setenv("TMPDIR", tmp.c_str(), 1);
  const OpenPgpMessage m = encrypt_to_key_file(key, Secret::copy_of(std::string_view(share)));
  ::unsetenv("TMPDIR");
  EXPECT_EQ(m.armored.rfind("-----BEGIN PGP MESSAGE-----", 0), 0u);
  EXPECT_EQ(m.armored.find("academic"), std::string::npos);
  EXPECT_EQ(m.recipient.fingerprint, fingerprint_of("ann@example.org"));
  EXPECT_EQ(m.recipient.user_id, "Ann Custodian <ann@example.org>");
  std::ofstream(dir_ / "ann.share.asc") << m.armored;
  int status = 1;
  const std::string plain =
      gpg("gpg --batch --decrypt " + (dir_ / "ann.share.asc").string(), &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(plain, share);
  // The throwaway home is gone: nothing of the import is left behind.
  EXPECT_TRUE(fs::is_empty(tmp));
}

TEST_F(OpenPgpDeliveryTest, KeyFilesThatAreNotOneUsablePublicKeyAreRefused) {
  const Secret share = Secret::copy_of(std::string_view("academic acid"));
  const auto refused = [&](const fs::path& p, Category want, const std::string& says) {
    try {
      encrypt_to_key_file(p, share);
      ADD_FAILURE() << p << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), want) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused(dir_ / "missing.asc", Category::not_found, "not found");
  make_key("Ann <ann@example.org>", "future-default", "default");
  refused(export_to("ann-secret.asc", "--export-secret-keys"), Category::usage, "secret key");
  make_key("Bob <bob@example.org>", "future-default", "default");
  refused(export_to("both.asc"), Category::usage, "holds 2 keys");
  make_key("Signer <signer@example.org>", "ed25519", "sign");
  refused(export_to("signer.asc", "--export signer@example.org"), Category::usage,
          "cannot encrypt");
  std::ofstream(dir_ / "junk.asc") << "not a key\n";
  refused(dir_ / "junk.asc", Category::usage, "holds 0 keys");
}

}  // namespace
}  // namespace hsm::delivery
