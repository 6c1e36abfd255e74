// Conversion between a SLIP-0039 share and its mnemonic text (header, padded value, RS1024
// checksum, 10-bit words). The text is secret: it goes in and comes out only as a Secret, and
// no error message ever quotes a word of it.
#pragma once

#include <cstddef>

#include "core/error.h"
#include "core/secure/secret.h"
#include "core/shamir/share.h"

namespace hsm::slip39 {

// A mnemonic word that is not in the SLIP-0039 wordlist (Category::integrity). position() is the
// 1-based word number, so an interactive prompt can ask for that word again. The word itself is
// not kept: it is part of a share (hsm::Error never carries a secret).
class UnknownWordError : public Error {
 public:
  explicit UnknownWordError(std::size_t position);
  std::size_t position() const noexcept { return position_; }

 private:
  std::size_t position_;
};

// Parses words separated by spaces, tabs or newlines, in any letter case. Throws
// UnknownWordError for a word not in the list, and Error(integrity) for a wrong number of
// words, a failed checksum, non-zero padding or an impossible header (group threshold above
// group count, group index outside the groups). Constant time in the words of a well-formed
// mnemonic.
Share parse_mnemonic(const Secret& mnemonic);

// The words of a share, lower case, separated by single spaces. Throws Error(usage) for a
// header field out of range or a value length that is not even and within 16..64 bytes.
Secret to_mnemonic(const Share& share);

}  // namespace hsm::slip39
