// Secret sources: env, file (permission check), fd; parsing refuses anything else.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "core/secure/secret_source.h"
#include "support/hsm_fixture.h"

namespace hsm {
namespace {

Category category_of(const SecretSource& s) {
  try {
    read_secret(s, "test secret");
  } catch (const Error& e) {
    return e.category();
  }
  return Category::usage;  // "did not throw" never equals the expected general
}

TEST(SecretSource, ParsesTheFourForms) {
  EXPECT_EQ(SecretSource::parse("prompt").kind, SecretSource::Kind::prompt);
  EXPECT_EQ(SecretSource::parse("env:X").location, "X");
  EXPECT_EQ(SecretSource::parse("file:/a/b").kind, SecretSource::Kind::file);
  EXPECT_EQ(SecretSource::parse("fd:3").describe(), "fd:3");
}

TEST(SecretSource, RefusesALiteralSecret) {
  for (const char* bad : {"1234", "env:", "file:", "fd:", "pin:1234", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(SecretSource::parse(bad), Error);
  }
}

TEST(SecretSource, ReadsEnvironmentVariable) {
  ::setenv("HSMCTL_UNIT_SECRET", "s3cret", 1);
  EXPECT_EQ(read_secret(SecretSource::parse("env:HSMCTL_UNIT_SECRET"), "x").chars(), "s3cret");
  ::unsetenv("HSMCTL_UNIT_SECRET");
  EXPECT_EQ(category_of(SecretSource::parse("env:HSMCTL_UNIT_SECRET")), Category::general);
}

TEST(SecretSource, ReadsFirstLineOfPrivateFile) {
  test::TempDir dir;
  const auto p = dir.path() / "pin";
  std::ofstream(p) << "line-one\r\nline-two\n";
  ::chmod(p.c_str(), 0600);
  EXPECT_EQ(read_secret(SecretSource::parse("file:" + p.string()), "x").chars(), "line-one");
}

TEST(SecretSource, RefusesGroupOrWorldReadableFile) {
  test::TempDir dir;
  const auto p = dir.path() / "pin";
  std::ofstream(p) << "1234\n";
  for (unsigned mode : {0640u, 0604u, 0660u}) {
    ::chmod(p.c_str(), mode);
    try {
      read_secret(SecretSource::parse("file:" + p.string()), "x");
      FAIL() << std::oct << mode;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), Category::general);
      EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
    }
  }
}

TEST(SecretSource, RefusesMissingFileAndEmptySecret) {
  test::TempDir dir;
  EXPECT_EQ(category_of(SecretSource::parse("file:" + (dir.path() / "none").string())),
            Category::general);
  const auto empty = dir.path() / "empty";
  std::ofstream(empty) << "\n";
  ::chmod(empty.c_str(), 0600);
  EXPECT_EQ(category_of(SecretSource::parse("file:" + empty.string())), Category::general);
}

TEST(SecretSource, ReadsFromFileDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "piped\n", 6), 6);
  ::close(fds[1]);
  EXPECT_EQ(read_secret(SecretSource::parse("fd:" + std::to_string(fds[0])), "x").chars(),
            "piped");
  ::close(fds[0]);
  EXPECT_EQ(category_of(SecretSource::parse("fd:" + std::to_string(fds[0]))), Category::general);
}

TEST(Secret, ComparesInConstantTimeAndCopiesPrefix) {
  const Secret a = Secret::copy_of(std::string_view("abcdef"));
  const Secret b = Secret::copy_of(std::string_view("abcdef"));
  const Secret c = Secret::copy_of(std::string_view("abcdeg"));
  EXPECT_TRUE(a.equals(b));
  EXPECT_FALSE(a.equals(c));
  EXPECT_EQ(a.prefix(3).chars(), "abc");
  Secret moved = Secret::copy_of(std::string_view("xyz"));
  Secret target = std::move(moved);
  EXPECT_EQ(target.chars(), "xyz");
  EXPECT_TRUE(moved.empty());
}

}  // namespace
}  // namespace hsm
