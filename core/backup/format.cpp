// Serialising and parsing backup files. Everything read from a file is checked before use:
// the envelope's length against the bytes present, every body field's type and encoding.
#include "core/backup/format.h"

#include <fmt/format.h>

#include <limits>

#include "core/error.h"

namespace hsm::backup {

namespace {

using nlohmann::json;

constexpr std::string_view kMagic = "hsmctl-backup 1\n";
constexpr std::string_view kTagIntro = "\nhmac-sha256 ";
constexpr std::size_t kMaxDigits = 10;  // bodies up to 9,999,999,999 bytes

[[noreturn]] void bad(const std::string& what) {
  fail(Category::integrity, "the backup file is malformed: " + what);
}

const json& field(const json& obj, const char* name, const std::string& where) {
  const auto it = obj.find(name);
  if (it == obj.end()) bad(where + " lacks '" + name + "'");
  return *it;
}

std::string text(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where);
  if (!v.is_string()) bad(where + " field '" + name + "' is not text");
  return v.get<std::string>();
}

std::int64_t integer(const json& obj, const char* name, const std::string& where,
                     std::int64_t max) {
  const json& v = field(obj, name, where);
  if (!v.is_number_integer()) bad(where + " field '" + name + "' is not an integer");
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max))
    bad(where + " field '" + name + "' is out of range");
  const std::int64_t n = v.get<std::int64_t>();
  if (n < 0 || n > max) bad(where + " field '" + name + "' is out of range");
  return n;
}

Bytes blob(const json& obj, const char* name, const std::string& where) {
  const std::string b64 = text(obj, name, where);
  try {
    return from_base64(b64);
  } catch (const Error&) {
    bad(where + " field '" + name + "' is not base64");
  }
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string serialise_body(const Contents& c) {
  json keys = json::array();
  for (const auto& k : c.keys)
    keys.push_back({{"label", k.label}, {"key_id", k.key_id}, {"algorithm", k.algorithm},
                    {"purpose", k.purpose}, {"escrow", k.escrow}, {"quorum", k.quorum},
                    {"token_label", k.token_label}, {"mechanism", k.mechanism},
                    {"wrapped_key", to_base64(k.wrapped_key)},
                    {"public_key", to_base64(k.public_key)}});
  const json doc{{"format", "hsmctl-backup"}, {"version", kVersion}, {"created", c.created},
                 {"kcv", c.kcv}, {"kek_derivation", c.kek_derivation}, {"schema", c.schema},
                 {"transcript", {{"seq", c.transcript_seq}, {"head", c.transcript_head}}},
                 {"keys", keys}, {"not_backed_up", c.not_backed_up}, {"keystore", c.keystore}};
  return doc.dump();
}

Contents parse_body(std::string_view body) {
  json doc;
  try {
    doc = json::parse(body.begin(), body.end());
  } catch (const json::exception&) {
    bad("the body is not one JSON document");
  }
  if (!doc.is_object()) bad("the body is not a JSON object");
  if (text(doc, "format", "the body") != "hsmctl-backup") bad("the body's format is not hsmctl-backup");
  if (integer(doc, "version", "the body", 1000) != kVersion)
    bad(fmt::format("the body's version is not {}", kVersion));
  Contents c;
  c.created = text(doc, "created", "the body");
  c.kcv = text(doc, "kcv", "the body");
  if (c.kcv.size() != 6 || !is_hex(c.kcv)) bad("the kcv is not 6 hex digits");
  if (doc.contains("kek_derivation")) {
    c.kek_derivation = text(doc, "kek_derivation", "the body");
    if (c.kek_derivation != "aes-ecb" && c.kek_derivation != "hmac-sha256")
      bad("the kek_derivation is not aes-ecb or hmac-sha256");
  }
  c.schema = static_cast<int>(integer(doc, "schema", "the body", 1000000));
  const json& t = field(doc, "transcript", "the body");
  if (!t.is_object()) bad("'transcript' is not an object");
  c.transcript_seq = static_cast<std::uint64_t>(
      integer(t, "seq", "the transcript record", std::numeric_limits<std::int64_t>::max()));
  c.transcript_head = text(t, "head", "the transcript record");
  if (c.transcript_head.size() != 64 || !is_hex(c.transcript_head))
    bad("the transcript head is not 64 hex digits");
  const json& keys = field(doc, "keys", "the body");
  if (!keys.is_array()) bad("'keys' is not a list");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string where = fmt::format("key {}", i + 1);
    const json& k = keys[i];
    if (!k.is_object()) bad(where + " is not an object");
    KeyEntry e;
    e.label = text(k, "label", where);
    e.key_id = text(k, "key_id", where);
    if (e.key_id.empty() || e.key_id.size() % 2 != 0 || !is_hex(e.key_id))
      bad(where + " key_id is not hex");
    e.algorithm = text(k, "algorithm", where);
    e.purpose = text(k, "purpose", where);
    e.escrow = text(k, "escrow", where);
    if (e.escrow != "mk-wrap" && e.escrow != "qk") bad(where + " escrow is not mk-wrap or qk");
    e.quorum = static_cast<int>(integer(k, "quorum", where, 16));
    e.token_label = text(k, "token_label", where);
    e.mechanism = text(k, "mechanism", where);
    e.wrapped_key = blob(k, "wrapped_key", where);
    e.public_key = blob(k, "public_key", where);
    if (e.wrapped_key.empty() || e.public_key.empty()) bad(where + " has an empty key field");
    c.keys.push_back(std::move(e));
  }
  const json& nb = field(doc, "not_backed_up", "the body");
  if (!nb.is_array()) bad("'not_backed_up' is not a list");
  for (const auto& l : nb) {
    if (!l.is_string()) bad("'not_backed_up' holds something other than labels");
    c.not_backed_up.push_back(l.get<std::string>());
  }
  c.keystore = field(doc, "keystore", "the body");
  if (!c.keystore.is_object()) bad("'keystore' is not an object");
  return c;
}

Bytes authenticated_part(std::string_view body) {
  Bytes out = to_bytes(kMagic);
  const std::string length = std::to_string(body.size()) + "\n";
  out.insert(out.end(), length.begin(), length.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes assemble(std::string_view body, ByteView tag) {
  if (tag.size() != kTagSize) fail(Category::general, "a backup tag must be 32 bytes");
  Bytes out = authenticated_part(body);
  const std::string tail = std::string(kTagIntro) + to_hex(tag) + "\n";
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

Envelope parse_envelope(ByteView file) {
  const std::string_view all(reinterpret_cast<const char*>(file.data()), file.size());
  if (all.substr(0, kMagic.size()) != kMagic)
    bad("it does not start with 'hsmctl-backup 1' (not a backup file, or another version)");
  std::size_t pos = kMagic.size();
  std::size_t digits = 0;
  std::uint64_t length = 0;
  while (pos < all.size() && all[pos] >= '0' && all[pos] <= '9') {
    if (++digits > kMaxDigits) bad("the body length has too many digits");
    length = length * 10 + static_cast<std::uint64_t>(all[pos] - '0');
    ++pos;
  }
  if (digits == 0 || (digits > 1 && all[kMagic.size()] == '0'))
    bad("the second line is not a body length");
  if (pos >= all.size() || all[pos] != '\n') bad("the body length line does not end");
  ++pos;
  const std::size_t rest = all.size() - pos;
  const std::size_t trailer = kTagIntro.size() + 2 * kTagSize + 1;
  if (rest < trailer || length != rest - trailer)
    bad(fmt::format("the body length {} does not match the {} bytes present (truncated or "
                    "extended)", length, rest < trailer ? 0 : rest - trailer));
  Envelope e;
  e.body = std::string(all.substr(pos, static_cast<std::size_t>(length)));
  pos += static_cast<std::size_t>(length);
  e.authenticated.assign(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(pos));
  if (all.substr(pos, kTagIntro.size()) != kTagIntro) bad("the tag line is missing");
  pos += kTagIntro.size();
  const std::string_view hex = all.substr(pos, 2 * kTagSize);
  if (!is_hex(hex)) bad("the tag is not 64 lower-case hex digits");
  e.tag = from_hex(hex);
  pos += 2 * kTagSize;
  if (all[pos] != '\n') bad("the tag line does not end with a newline");
  return e;
}

}  // namespace hsm::backup
