// Entry <-> canonical JSON, hashing.
#include "core/transcript/entry.h"

#include <fmt/format.h>
#include <sodium.h>

#include <ctime>
#include <type_traits>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/transcript/canonical_json.h"

namespace hsm::transcript {

namespace {

// The entry as canonical JSON, written member by member: its member names are fixed ASCII, so
// their RFC 8785 order is the one below, and `data_json` (canonical_json of e.data) is spliced
// in as it is. canonical_json of the same object would give the same bytes
// (tests/transcript/entry_test.cpp checks it); this only spares copying `data`, which for a
// batch holds dozens of users.
std::string entry_json(const Entry& e, std::string_view data_json, bool sealed) {
  std::string out;
  out.reserve(data_json.size() + e.actor.size() + 320);
  const auto member = [&out](std::string_view name, std::string_view text) {
    out += out.empty() ? '{' : ',';
    out += '"';
    out += name;
    out += "\":";
    append_canonical_string(out, text);
  };
  member("actor", e.actor);
  member("ceremony", e.ceremony);
  out += ",\"data\":";
  out += data_json;
  member("event", e.event);
  if (sealed) member("hash", e.hash);
  member("prev", e.prev);
  out += ",\"seq\":";
  out += std::to_string(e.seq);
  if (sealed) member("sig", e.sig);
  member("time", e.time);
  out += '}';
  return out;
}

// The member `name` of `j`, checked with `is` (moved out when J is a non-const json).
template <class T, class J>
T field(J& j, const char* name, bool (nlohmann::json::*is)() const noexcept) {
  const auto it = j.find(name);
  if (it == j.end() || !((*it).*is)())
    fail(Category::integrity, fmt::format("entry field '{}' is missing or has the wrong type", name));
  if constexpr (std::is_same_v<T, std::string> && !std::is_const_v<J>)
    return std::move(it->template get_ref<std::string&>());
  else
    return it->template get<T>();
}

template <class J>
Entry entry_from(J& j) {
  if (!j.is_object()) fail(Category::integrity, "entry is not a JSON object");
  if (j.size() != 9)
    fail(Category::integrity, "entry must have exactly the fields actor, ceremony, data, event, "
                              "hash, prev, seq, sig, time");
  Entry e;
  e.seq = field<std::uint64_t>(j, "seq", &nlohmann::json::is_number_unsigned);
  e.time = field<std::string>(j, "time", &nlohmann::json::is_string);
  e.ceremony = field<std::string>(j, "ceremony", &nlohmann::json::is_string);
  e.event = field<std::string>(j, "event", &nlohmann::json::is_string);
  e.actor = field<std::string>(j, "actor", &nlohmann::json::is_string);
  e.prev = field<std::string>(j, "prev", &nlohmann::json::is_string);
  e.hash = field<std::string>(j, "hash", &nlohmann::json::is_string);
  e.sig = field<std::string>(j, "sig", &nlohmann::json::is_string);
  const auto d = j.find("data");
  if (d == j.end() || !d->is_object())
    fail(Category::integrity, "entry field 'data' is missing or not an object");
  if constexpr (std::is_const_v<J>)
    e.data = *d;
  else
    e.data = std::move(*d);
  return e;
}

}  // namespace

std::string canonical_body(const Entry& e) {
  return entry_json(e, canonical_json(e.data), false);
}

std::string body_hash(const Entry& e) { return body_hash(e, canonical_json(e.data)); }

std::string body_hash(const Entry& e, std::string_view data_json) {
  return to_hex(crypto::sha256(as_bytes(entry_json(e, data_json, false))));
}

std::string to_line(const Entry& e) { return to_line(e, canonical_json(e.data)); }

std::string to_line(const Entry& e, std::string_view data_json) {
  return entry_json(e, data_json, true);
}

Entry entry_from_json(const nlohmann::json& j) { return entry_from(j); }

Entry entry_from_json(nlohmann::json&& j) { return entry_from(j); }

std::string utc_now_rfc3339() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_ceremony_id() {
  std::uint8_t b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(ByteView(b, 16));
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20));
}

}  // namespace hsm::transcript
