// Commitments files: written by master init and reshare, read by verify-share.
#include "ceremonies/master/commitments.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

namespace {

constexpr const char* kScheme =
    "hex SHA-256 of \"hsmctl v1 share commitment\" || identifier (2 bytes, big-endian) || group "
    "index || member index (1 byte each, counted from 0) || share value";

[[noreturn]] void malformed(const std::filesystem::path& path, const std::string& why) {
  fail(Category::usage, fmt::format("'{}' is not an hsmctl commitments file ({}); use the "
                                    "share-set-*.json file that master init or reshare wrote",
                                    path.string(), why));
}

int number_in(const nlohmann::json& j, const char* key, int lo, int hi,
              const std::filesystem::path& path) {
  if (!j.contains(key) || !j[key].is_number_integer()) malformed(path, fmt::format("no '{}'", key));
  const auto v = j[key].get<std::int64_t>();
  if (v < lo || v > hi) malformed(path, fmt::format("'{}' is {}, not {}..{}", key, v, lo, hi));
  return static_cast<int>(v);
}

}  // namespace

CommitmentsFile commitments_file(const keystore::ShareSet& set) {
  nlohmann::json custodians = nlohmann::json::array();
  for (const auto& c : set.custodians)
    custodians.push_back({{"name", c.name}, {"group_index", c.group_index + 1},
                          {"member_index", c.member_index + 1}, {"commitment", c.commitment}});
  nlohmann::json doc{{"format", kCommitmentsFormat},
                           {"commitment_scheme", kScheme},
                           {"identifier", set.identifier},
                           {"extendable", set.extendable},
                           {"iteration_exponent", set.iteration_exponent},
                           {"group_threshold", set.group_threshold},
                           {"member_thresholds", set.member_thresholds},
                           {"custodians", custodians}};
  if (!set.group_names.empty()) doc["group_names"] = set.group_names;  // two-level sets only
  CommitmentsFile out;
  out.text = doc.dump(2) + "\n";
  out.sha256 = to_hex(crypto::sha256(as_bytes(out.text)));
  out.name = fmt::format("share-set-{}-{}.json", set.identifier, out.sha256.substr(0, 8));
  return out;
}

keystore::ShareSet read_commitments_file(const std::filesystem::path& path) {
  const Bytes raw = read_file(path, "commitments file");
  if (raw.size() > 1024 * 1024) malformed(path, "larger than 1 MiB");
  nlohmann::json doc = nlohmann::json::parse(raw.begin(), raw.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) malformed(path, "not JSON");
  if (doc.value("format", "") != kCommitmentsFormat)
    malformed(path, fmt::format("its format is not '{}'", kCommitmentsFormat));
  keystore::ShareSet set;
  set.identifier = number_in(doc, "identifier", 0, 0x7fff, path);
  set.iteration_exponent = number_in(doc, "iteration_exponent", 0, 15, path);
  set.group_threshold = number_in(doc, "group_threshold", 1, 16, path);
  if (!doc.contains("extendable") || !doc["extendable"].is_boolean())
    malformed(path, "no 'extendable'");
  set.extendable = doc["extendable"].get<bool>();
  if (!doc.contains("member_thresholds") || !doc["member_thresholds"].is_array() ||
      doc["member_thresholds"].empty() || doc["member_thresholds"].size() > 16)
    malformed(path, "no 'member_thresholds'");
  for (const auto& t : doc["member_thresholds"]) {
    if (!t.is_number_integer() || t.get<std::int64_t>() < 1 || t.get<std::int64_t>() > 16)
      malformed(path, "a member threshold is not 1..16");
    set.member_thresholds.push_back(t.get<int>());
  }
  if (doc.contains("group_names")) {
    if (!doc["group_names"].is_array() ||
        doc["group_names"].size() != set.member_thresholds.size())
      malformed(path, "'group_names' does not name each group");
    for (const auto& n : doc["group_names"]) {
      if (!n.is_string()) malformed(path, "a group name is not a string");
      set.group_names.push_back(n.get<std::string>());
    }
  }
  if (!doc.contains("custodians") || !doc["custodians"].is_array() || doc["custodians"].empty())
    malformed(path, "no 'custodians'");
  for (const auto& c : doc["custodians"]) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() ||
        !c.contains("commitment") || !c["commitment"].is_string())
      malformed(path, "a custodian without name or commitment");
    keystore::CustodianRecord r;
    r.name = c["name"].get<std::string>();
    r.group_index = number_in(c, "group_index", 1, 16, path) - 1;
    r.member_index = number_in(c, "member_index", 1, 16, path) - 1;
    r.commitment = c["commitment"].get<std::string>();
    if (r.commitment.size() != 64 ||
        r.commitment.find_first_not_of("0123456789abcdef") != std::string::npos)
      malformed(path, fmt::format("the commitment of '{}' is not 64 hex digits", r.name));
    set.custodians.push_back(std::move(r));
  }
  return set;
}

}  // namespace hsm
