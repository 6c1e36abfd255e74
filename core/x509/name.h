// Distinguished names as hsmctl's command line writes them: "CN=Example Root,O=Example,C=DE"
// (RFC 4514 order, most specific first). Refuses what it cannot encode exactly; never guesses.
#pragma once

#include <string>
#include <string_view>

#include "core/bytes.h"

namespace hsm::x509 {

// DER Name for `text`. Attributes: CN, O, OU, C, L, ST, DC, serialNumber; a backslash escapes
// the next character ("O=Example\, Inc."). Throws Error(usage) naming the problem: empty
// subject or part, unknown attribute, missing '=', empty value, multi-valued RDN ('+'), a
// country that is not two capital letters, a value too long for its attribute.
Bytes subject_name(std::string_view text);

// RFC 4514 text of a DER Name ("CN=Example Root,O=Example,C=DE").
std::string name_text(ByteView der);

}  // namespace hsm::x509
