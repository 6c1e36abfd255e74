// Reading the signature events: sign.file|cert|csr|crl (data.key), user.signed (data.name),
// group.signed (data.group, data.as), with the digests each records.
#include "ceremonies/transcript/signature_events.h"

#include <fmt/format.h>

#include <initializer_list>

namespace hsm {

namespace {

std::string first_string(const nlohmann::json& data, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto it = data.find(k); it != data.end() && it->is_string()) return it->get<std::string>();
  return {};
}

}  // namespace

std::optional<SignatureEvent> signature_event(const nlohmann::json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const auto ev = entry.find("event");
  const auto d = entry.find("data");
  if (ev == entry.end() || !ev->is_string() || d == entry.end() || !d->is_object())
    return std::nullopt;
  const nlohmann::json& data = *d;
  SignatureEvent s;
  s.event = ev->get<std::string>();
  if (s.event == "sign.file" || s.event == "sign.cert" || s.event == "sign.csr" ||
      s.event == "sign.crl") {
    s.key = first_string(data, {"key"});
    s.signer = fmt::format("key '{}'", s.key);
  } else if (s.event == "user.signed") {
    s.user = first_string(data, {"name"});
    s.signer = fmt::format("user '{}'", s.user);
  } else if (s.event == "group.signed") {
    s.group = first_string(data, {"group"});
    s.user = first_string(data, {"as"});
    s.signer = fmt::format("group '{}' as '{}'", s.group, s.user);
  } else {
    return std::nullopt;
  }
  s.input_sha256 = first_string(data, {"input_sha256", "file_sha256"});
  s.output_sha256 = first_string(data, {"signature_sha256", "output_sha256"});
  s.input = first_string(data, {"input", "file", "output"});
  return s;
}

}  // namespace hsm
