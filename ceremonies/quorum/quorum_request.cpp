// Request and approval files: building, digest, strict reading, and their text in words.
#include "ceremonies/quorum/quorum_request.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <set>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/transcript/canonical_json.h"
#include "core/transcript/pgp_words.h"

namespace hsm::quorum {

namespace {

// The members every request body has, and no others.
const std::set<std::string>& request_members() {
  static const std::set<std::string> m{"format", "ceremony_id", "operation", "workspace",
                                       "share_set", "created", "expires", "public_key"};
  return m;
}

void require_string(const nlohmann::json& j, const char* key, const char* what) {
  if (!j.contains(key) || !j.at(key).is_string())
    fail(Category::integrity, fmt::format("{} has no '{}'", what, key));
}

Bytes hex_member(const nlohmann::json& j, const char* key, std::size_t size, const char* what) {
  require_string(j, key, what);
  Bytes b;
  try {
    b = from_hex(j.at(key).get<std::string>());
  } catch (const Error&) {
    fail(Category::integrity, fmt::format("{}: '{}' is not hex", what, key));
  }
  if (size != 0 && b.size() != size)
    fail(Category::integrity, fmt::format("{}: '{}' has {} bytes, not {}", what, key, b.size(), size));
  return b;
}

}  // namespace

Request make_request(nlohmann::json body) {
  Request r;
  r.digest = crypto::sha256(as_bytes(transcript::canonical_json(body)));
  r.body = std::move(body);
  return r;
}

std::string request_text(const Request& r) {
  nlohmann::json doc = r.body;
  doc["digest"] = r.digest_hex();
  return doc.dump(2) + "\n";
}

Request read_request(const std::filesystem::path& path) {
  const Bytes raw = read_file(path, "request file");
  nlohmann::json doc = nlohmann::json::parse(raw.begin(), raw.end(), nullptr, false);
  const std::string what = fmt::format("'{}'", path.string());
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kRequestFormat)
    fail(Category::integrity, fmt::format("{} is not an hsmctl quorum request ({})", what,
                                          kRequestFormat));
  const Bytes stated = hex_member(doc, "digest", 32, what.c_str());
  doc.erase("digest");
  for (const auto& [k, v] : doc.items())
    if (!request_members().contains(k))
      fail(Category::integrity, fmt::format("{} has an unknown member '{}'", what, k));
  for (const auto& k : request_members())
    if (!doc.contains(k)) fail(Category::integrity, fmt::format("{} has no '{}'", what, k));
  hex_member(doc, "public_key", 32, what.c_str());
  require_string(doc, "expires", what.c_str());
  parse_utc(doc.at("expires"));
  require_string(doc.at("operation"), "command", what.c_str());
  Request r = make_request(std::move(doc));
  if (r.digest != stated)
    fail(Category::integrity, fmt::format("{} does not match its digest: it was changed after the "
                                          "host wrote it; ask the host for the request again",
                                          what));
  try {
    share_set_of(r);
  } catch (const nlohmann::json::exception&) {
    fail(Category::integrity, fmt::format("{} has a malformed share set", what));
  }
  return r;
}

nlohmann::json share_set_json(const keystore::ShareSet& set) {
  nlohmann::json custodians = nlohmann::json::array();
  for (const auto& c : set.custodians)
    custodians.push_back({{"name", c.name}, {"group_index", c.group_index},
                          {"member_index", c.member_index}, {"commitment", c.commitment}});
  return {{"identifier", set.identifier}, {"generation", set.generation},
          {"extendable", set.extendable}, {"iteration_exponent", set.iteration_exponent},
          {"group_threshold", set.group_threshold}, {"member_thresholds", set.member_thresholds},
          {"group_names", set.group_names}, {"custodians", custodians}};
}

keystore::ShareSet share_set_of(const Request& r) {
  const nlohmann::json& j = r.body.at("share_set");
  keystore::ShareSet s;
  s.identifier = j.at("identifier");
  s.generation = j.at("generation");
  s.extendable = j.at("extendable");
  s.iteration_exponent = j.at("iteration_exponent");
  s.group_threshold = j.at("group_threshold");
  s.member_thresholds = j.at("member_thresholds").get<std::vector<int>>();
  s.group_names = j.at("group_names").get<std::vector<std::string>>();
  for (const auto& c : j.at("custodians"))
    s.custodians.push_back({c.at("name").get<std::string>(), c.at("group_index").get<int>(),
                            c.at("member_index").get<int>(),
                            c.at("commitment").get<std::string>()});
  return s;
}

std::string describe(const Request& r) {
  const nlohmann::json& op = r.body.at("operation");
  const nlohmann::json& ws = r.body.at("workspace");
  const keystore::ShareSet set = share_set_of(r);
  std::string out = fmt::format("Operation:   hsmctl {}\n", op.value("words", r.command()));
  if (op.contains("description"))
    out += fmt::format("             ({})\n", op.at("description").get<std::string>());
  // A named copy: items() of the temporary value() returns would outlive it.
  const nlohmann::json params = op.value("parameters", nlohmann::json::object());
  for (const auto& [name, values] : params.items()) {
    std::string v;
    for (const auto& x : values) v += (v.empty() ? "" : " ") + x.get<std::string>();
    out += fmt::format("  {:<11} {}\n", name, v);
  }
  const nlohmann::json token = ws.value("token", nlohmann::json::object());
  out += fmt::format("Token:       '{}' (serial {}, {} {})\n", token.value("label", ""),
                     token.value("serial", ""), token.value("manufacturer", ""),
                     token.value("model", ""));
  out += fmt::format("Workspace:   {}\n", ws.value("dir", ""));
  out += fmt::format("Master KCV:  {}\n", ws.value("master_kcv", ""));
  if (set.group_names.empty() && set.member_thresholds.size() == 1) {
    out += fmt::format("Share set:   {} (generation {}), {} of {} custodians\n", set.identifier,
                       set.generation, set.member_thresholds.front(), set.custodians.size());
  } else {
    out += fmt::format("Share set:   {} (generation {}), {} of {} groups:\n", set.identifier,
                       set.generation, set.group_threshold, set.member_thresholds.size());
    for (std::size_t g = 0; g < set.member_thresholds.size(); ++g) {
      std::string names;
      for (const auto& c : set.custodians)
        if (c.group_index == static_cast<int>(g)) names += (names.empty() ? "" : ", ") + c.name;
      out += fmt::format("  group '{}': {} of {}\n", g < set.group_names.size() ? set.group_names[g]
                                                                                : std::to_string(g + 1),
                         set.member_thresholds[g], names);
    }
  }
  out += fmt::format("Ceremony:    {}\nCreated:     {}\nExpires:     {}\n", r.ceremony_id(),
                     r.body.at("created").get<std::string>(), r.expires());
  out += fmt::format("Digest:      {}\n             {}\n", r.digest_hex(),
                     transcript::pgp_words(r.digest));
  return out;
}

std::string approval_text(const Approval& a) {
  const nlohmann::json doc{{"format", kApprovalFormat}, {"request_digest", a.request_digest},
                           {"ceremony_id", a.ceremony_id}, {"custodian", a.custodian},
                           {"ephemeral_public_key", to_hex(a.sealed.ephemeral_public)},
                           {"nonce", to_hex(a.sealed.nonce)},
                           {"sealed_share", to_hex(a.sealed.sealed)}};
  return doc.dump(2) + "\n";
}

Approval parse_approval(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  const char* what = "the approval";
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kApprovalFormat)
    fail(Category::integrity, fmt::format("it is not an hsmctl quorum approval ({})",
                                          kApprovalFormat));
  Approval a;
  a.request_digest = to_hex(hex_member(doc, "request_digest", 32, what));
  require_string(doc, "ceremony_id", what);
  require_string(doc, "custodian", what);
  a.ceremony_id = doc.at("ceremony_id");
  a.custodian = doc.at("custodian");
  a.sealed.ephemeral_public = hex_member(doc, "ephemeral_public_key", 32, what);
  a.sealed.nonce = hex_member(doc, "nonce", 12, what);
  a.sealed.sealed = hex_member(doc, "sealed_share", 0, what);
  return a;
}

std::string utc_text(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::time_t parse_utc(const std::string& text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  if (text.size() != 20 ||
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 ||
      z != 'Z')
    fail(Category::integrity, fmt::format("'{}' is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)", text));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return ::timegm(&tm);
}

std::chrono::seconds parse_duration(const std::string& text) {
  long n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  long unit = 0;
  if (ec == std::errc() && p + 1 == end) {
    switch (*p) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: break;
    }
  }
  if (unit == 0 || n <= 0 || n > 30L * 86400 / unit)
    fail(Category::usage, fmt::format("--expires '{}' is not a duration like 90s, 30m, 2h or 1d "
                                      "(at most 30d)", text));
  return std::chrono::seconds(n * unit);
}

}  // namespace hsm::quorum
