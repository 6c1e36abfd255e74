// Blank-padded PKCS#11 strings.
#include "core/pkcs11/text.h"

#include <fmt/format.h>

#include <cstring>

#include "core/error.h"

namespace hsm::p11 {

std::string padded_text(const unsigned char* field, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

void set_padded(unsigned char* field, std::size_t size, std::string_view text, const char* what) {
  if (text.size() > size)
    fail(Category::usage, fmt::format("{} '{}' is longer than {} bytes", what, text, size));
  std::memset(field, ' ', size);
  std::memcpy(field, text.data(), text.size());
}

}  // namespace hsm::p11
