// The one table of key algorithm spellings. Every command accepts both the hsmctl form
// (ec-p256, ec-p384, rsa-3072, rsa-4096, ed25519) and the short form (p256, p384, rsa3072,
// rsa4096) and prints the hsmctl form; what is stored (and so the JSON) keeps each record's own
// spelling, so this table never renames anything on disk.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hsm {

// The canonical (printed) spelling of `name` in either form, or nullopt for an unknown name.
std::optional<std::string_view> canonical_algorithm(std::string_view name);
// The short spelling of `name` in either form ("ec-p256" -> "p256"), or nullopt.
std::optional<std::string_view> short_algorithm(std::string_view name);
// For text output: the canonical spelling, or `name` itself when it is not an algorithm.
std::string display_algorithm(std::string_view name);

}  // namespace hsm
