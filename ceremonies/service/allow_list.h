// `hsmctl serve --allow FILE`: which users' and groups' keys each client certificate may ask
// for. One line per client: the certificate's SHA-256 fingerprint ("sha256:HEX") or subject
// common name ("cn:NAME"), then what it may use ("user:NAME", "group:NAME", "user:*",
// "group:*"); '#' starts a comment. A client matching several lines gets all they give. Without
// --allow every client of --client-ca may ask for every user. Never holds a secret.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace hsm {

// Who a client is, from its certificate.
struct ClientIdentity {
  std::string fingerprint;  // SHA-256 of the DER, lowercase hex
  std::string cn;           // the subject's commonName ("" without one)
};

class AllowList {
 public:
  AllowList() = default;  // open: everyone may use everything
  // Error(usage) naming the file and line of the first problem; Error(not_found) without it.
  static AllowList read(const std::filesystem::path& file);
  static AllowList parse(std::string_view text, std::string_view source);

  bool open() const { return !restricted_; }
  bool may_use_user(const ClientIdentity& c, std::string_view user) const;
  bool may_use_group(const ClientIdentity& c, std::string_view group) const;

 private:
  struct Grants {
    std::set<std::string, std::less<>> users, groups;  // "*": all
  };
  bool may(const ClientIdentity& c, std::string_view name, bool group) const;
  bool restricted_ = false;
  std::map<std::string, Grants, std::less<>> clients_;  // "sha256:hex" or "cn:NAME"
};

}  // namespace hsm
