// Listing and finding objects on a token, with the security attributes a custodian checks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/session.h"

namespace hsm::p11 {

struct ObjectInfo {
  unsigned long handle = 0;
  std::string label;
  Bytes id;
  std::string object_class;  // "secret-key", "private-key", "public-key", "certificate", "data"
  std::string key_type;      // "aes", "ec", "rsa", "ec-edwards", "generic-secret", ... or ""
  std::optional<bool> token, is_private, sensitive, extractable, local, modifiable;
  std::optional<bool> always_sensitive, never_extractable;
  std::optional<Bytes> check_value;  // CKA_CHECK_VALUE of secret keys (the KCV)
};

// Every object visible to the session (public ones, and private ones once logged in).
std::vector<ObjectInfo> list_objects(const Session& s);
// Objects with this label (any class).
std::vector<ObjectInfo> find_by_label(const Session& s, const std::string& label);
ObjectInfo describe_object(const Session& s, unsigned long handle);
void destroy_object(const Session& s, unsigned long handle);

}  // namespace hsm::p11
