// The printed share card read back with stock tools: the QR code decoded by zbarimg from
// pdftoppm's rendering is the share, pdftotext finds the words numbered in order, pdfinfo
// reports the paper size asked for.
#include "core/print/share_card.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/shamir/mnemonic.h"
#include "core/shamir/slip39.h"

namespace hsm::print {
namespace {

namespace fs = std::filesystem;

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
  return out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class ShareCardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hsmctl-card-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const Secret master = Secret::copy_of(std::string_view("0123456789abcdef0123456789abcdef"));
    const slip39::GroupSpec group{2, 3};
    const auto shares =
        slip39::split_master_secret(master, Secret(), 1, std::span(&group, 1), true, 1);
    const Secret m = slip39::to_mnemonic(shares[0][1]);
    mnemonic_.assign(reinterpret_cast<const char*>(m.data()), m.size());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const ShareCard& card) {
    const Secret pdf = render_share_card(card, Secret::copy_of(std::string_view(mnemonic_)));
    const fs::path p = dir_ / (card.custodian + ".pdf");
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(pdf.data()), static_cast<std::streamsize>(pdf.size()));
    return p;
  }

  ShareCard card() const {
    ShareCard c;
    c.custodian = "bob";
    c.workspace = "ceremony-1";
    c.identifier = 12345;
    c.member = 2;
    c.members = 3;
    c.member_threshold = 2;
    c.kcv = "a1b2c3";
    c.issued = "2026-12-06T10:00:00Z";
    return c;
  }

  fs::path dir_;
  std::string mnemonic_;
};

TEST_F(ShareCardTest, TheQrCodeDecodesToTheShare) {
  const fs::path pdf = write(card());
  shell("pdftoppm -r 150 -png -singlefile " + pdf.string() + " " + (dir_ / "page").string());
  const std::string qr = shell("zbarimg --raw -q " + (dir_ / "page.png").string());
  EXPECT_EQ(trimmed(qr), mnemonic_);
}

TEST_F(ShareCardTest, TheWordsAreNumberedInOrderAndTheSetIsNamed) {
  const fs::path pdf = write(card());
  const std::string text = shell("pdftotext -layout " + pdf.string() + " -");
  // Every "N. word" pair, in whatever order the columns come out.
  std::istringstream in(text);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  std::vector<std::string> expected;
  {
    std::istringstream m(mnemonic_);
    for (std::string w; m >> w;) expected.push_back(w);
  }
  std::vector<std::string> found(expected.size());
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t.size() < 2 || t.back() != '.') continue;
    const std::string digits = t.substr(0, t.size() - 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::size_t n = std::stoul(digits);
    if (n >= 1 && n <= found.size()) found[n - 1] = tokens[i + 1];
  }
  EXPECT_EQ(found, expected);
  EXPECT_NE(text.find("Custodian: bob"), std::string::npos) << text;
  EXPECT_NE(text.find("Share set 12345: member 2 of 3"), std::string::npos) << text;
  EXPECT_NE(text.find("any 2 of the 3 cards"), std::string::npos) << text;
  EXPECT_NE(text.find("a1b2c3"), std::string::npos) << text;
}

TEST_F(ShareCardTest, PaperSizeIsA4OrLetter) {
  ShareCard c = card();
  EXPECT_NE(shell("pdfinfo " + write(c).string()).find("595.276 x 841.89 pts (A4)"),
            std::string::npos);
  c.custodian = "cy";
  c.paper = paper_named("letter");
  EXPECT_NE(shell("pdfinfo " + write(c).string()).find("612 x 792 pts (letter)"),
            std::string::npos);
  EXPECT_THROW(paper_named("a3"), Error);
}

TEST_F(ShareCardTest, AGroupedShareNamesItsGroupAndBothThresholds) {
  ShareCard c = card();
  c.group = "board";
  c.groups = 2;
  c.group_threshold = 2;
  const std::string text = shell("pdftotext -layout " + write(c).string() + " -");
  EXPECT_NE(text.find("member 2 of 3 of group 'board'"), std::string::npos) << text;
  EXPECT_NE(text.find("in 2 of the 2 groups"), std::string::npos) << text;
}

TEST_F(ShareCardTest, NoWordsIsRefused) {
  EXPECT_THROW(render_share_card(card(), Secret()), Error);
}

}  // namespace
}  // namespace hsm::print
