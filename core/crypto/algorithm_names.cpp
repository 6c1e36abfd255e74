// Key algorithm spellings: see algorithm_names.h.
#include "core/crypto/algorithm_names.h"

#include <array>

namespace hsm {

namespace {

struct Spelling {
  std::string_view canonical, short_form;
};

constexpr std::array<Spelling, 5> kSpellings{{
    {"ec-p256", "p256"},
    {"ec-p384", "p384"},
    {"rsa-3072", "rsa3072"},
    {"rsa-4096", "rsa4096"},
    {"ed25519", "ed25519"},
}};

const Spelling* spelling(std::string_view name) {
  for (const auto& s : kSpellings)
    if (name == s.canonical || name == s.short_form) return &s;
  return nullptr;
}

}  // namespace

std::optional<std::string_view> canonical_algorithm(std::string_view name) {
  const Spelling* s = spelling(name);
  return s != nullptr ? std::optional(s->canonical) : std::nullopt;
}

std::optional<std::string_view> short_algorithm(std::string_view name) {
  const Spelling* s = spelling(name);
  return s != nullptr ? std::optional(s->short_form) : std::nullopt;
}

std::string display_algorithm(std::string_view name) {
  return std::string(canonical_algorithm(name).value_or(name));
}

}  // namespace hsm
