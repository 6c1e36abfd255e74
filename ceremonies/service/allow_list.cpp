// Reading and asking the allow-list of `hsmctl serve --allow`.
#include "ceremonies/service/allow_list.h"

#include <fmt/format.h>

#include <cctype>
#include <sstream>

#include "ceremonies/users/user_layers.h"
#include "core/error.h"
#include "core/files.h"

namespace hsm {

namespace {

constexpr std::size_t kMaxAllowListBytes = 1 << 20;

bool lowercase_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  return true;
}

}  // namespace

AllowList AllowList::read(const std::filesystem::path& file) {
  if (!std::filesystem::is_regular_file(file))
    fail(Category::not_found, fmt::format("--allow '{}' does not exist", file.string()));
  if (std::filesystem::file_size(file) > kMaxAllowListBytes)
    fail(Category::usage, fmt::format("--allow '{}' is over 1 MiB", file.string()));
  const Bytes text = read_file(file, "--allow");
  return parse(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
               file.string());
}

AllowList AllowList::parse(std::string_view text, std::string_view source) {
  AllowList out;
  out.restricted_ = true;
  std::istringstream lines{std::string(text)};
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string client;
    if (!(words >> client)) continue;
    const auto bad = [&](const std::string& why) {
      fail(Category::usage, fmt::format("{}:{}: {}", source, number, why));
    };
    if (client.rfind("sha256:", 0) == 0) {
      std::string hex = client.substr(7);
      std::erase(hex, ':');
      for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!lowercase_hex64(hex))
        bad(fmt::format("'{}' is no SHA-256 fingerprint: give 64 hex digits (openssl x509 "
                        "-noout -fingerprint -sha256)", client));
      client = "sha256:" + hex;
    } else if (client.rfind("cn:", 0) != 0 || client.size() == 3) {
      bad(fmt::format("'{}' names no client: start the line with sha256:FINGERPRINT or cn:NAME",
                      client));
    }
    Grants& g = out.clients_[client];
    bool any = false;
    for (std::string grant; words >> grant; any = true) {
      const bool group = grant.rfind("group:", 0) == 0;
      if (!group && grant.rfind("user:", 0) != 0)
        bad(fmt::format("'{}' is neither user:NAME nor group:NAME", grant));
      const std::string name = grant.substr(group ? 6 : 5);
      if (name != "*" && !valid_user_name(name)) bad(fmt::format("'{}' is not a name", name));
      (group ? g.groups : g.users).insert(name);
    }
    if (!any) bad(fmt::format("'{}' is given nothing: add user:NAME or group:NAME", client));
  }
  return out;
}

bool AllowList::may(const ClientIdentity& c, std::string_view name, bool group) const {
  if (!restricted_) return true;
  for (const std::string& key : {"sha256:" + c.fingerprint, c.cn.empty() ? std::string() : "cn:" + c.cn}) {
    const auto it = clients_.find(key);
    if (key.empty() || it == clients_.end()) continue;
    const auto& names = group ? it->second.groups : it->second.users;
    if (names.contains("*") || names.contains(name)) return true;
  }
  return false;
}

bool AllowList::may_use_user(const ClientIdentity& c, std::string_view user) const {
  return may(c, user, false);
}

bool AllowList::may_use_group(const ClientIdentity& c, std::string_view group) const {
  return may(c, group, true);
}

}  // namespace hsm
