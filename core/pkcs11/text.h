// PKCS#11 blank-padded text fields <-> std::string.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hsm::p11 {

// Trailing blanks (and NULs) removed.
std::string padded_text(const unsigned char* field, std::size_t size);
template <std::size_t N>
std::string padded(const unsigned char (&field)[N]) {
  return padded_text(field, N);
}
// Writes `text` into a blank-padded field; throws Error(usage) if it does not fit.
void set_padded(unsigned char* field, std::size_t size, std::string_view text, const char* what);

}  // namespace hsm::p11
