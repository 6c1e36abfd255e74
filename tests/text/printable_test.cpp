// printable(): what reaches a terminal shows every control, bidi and non-UTF-8 byte as an escape
// and leaves ordinary text, UTF-8 included, as it is.
#include "core/printable.h"

#include <gtest/gtest.h>

namespace hsm {
namespace {

TEST(Printable, EscapesControlsBidiAndBrokenUtf8) {
  EXPECT_EQ(printable("x\x1b[8my"), "x\\x1b[8my");
  EXPECT_EQ(printable("a\nb\tc\rd\x7f"), "a\\x0ab\\x09c\\x0dd\\x7f");
  EXPECT_EQ(printable(std::string("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(printable("c1 \xc2\x9b"), "c1 \\u009b");                 // CSI as a C1 control
  EXPECT_EQ(printable("ab\xe2\x80\xae" "cd"), "ab\\u202ecd");          // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(printable("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");  // isolates
  EXPECT_EQ(printable("\xd8\x9c"), "\\u061c");                         // ARABIC LETTER MARK
  EXPECT_EQ(printable("bad \xff\xc3"), "bad \\xff\\xc3");              // not UTF-8
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                      // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");             // a surrogate
}

TEST(Printable, LeavesOrdinaryTextAlone) {
  for (const char* s : {"", "alice", "Zoë \"the\" custodian", "€ 😀 日本", "back\\slash"}) {
    EXPECT_EQ(printable(s), s);
    EXPECT_TRUE(is_printable(s));
  }
  EXPECT_FALSE(is_printable("a\x1b"));
}

TEST(Printable, LinesKeepLineFeedsAndTabs) {
  EXPECT_EQ(printable_lines("SEQ\tEVENT\n1\tx\x1b[2J\n"), "SEQ\tEVENT\n1\tx\\x1b[2J\n");
  EXPECT_EQ(printable_lines("a\r\n"), "a\\x0d\n");
}

}  // namespace
}  // namespace hsm
