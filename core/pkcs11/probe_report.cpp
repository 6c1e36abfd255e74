// Reading a probe's results: which capabilities are missing and how to say so, which token
// return codes mean "not supported", and the PKCS#11 names of mechanisms and attributes.
#include <fmt/format.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/pkcs11/probe.h"

namespace hsm::p11 {

bool means_unsupported(const std::string& rv) {
  static const std::set<std::string> codes = {
      "CKR_MECHANISM_INVALID", "CKR_MECHANISM_PARAM_INVALID", "CKR_FUNCTION_NOT_SUPPORTED",
      "CKR_KEY_FUNCTION_NOT_PERMITTED", "CKR_KEY_TYPE_INCONSISTENT", "CKR_TEMPLATE_INCONSISTENT",
      "CKR_ATTRIBUTE_VALUE_INVALID", "CKR_ATTRIBUTE_TYPE_INVALID"};
  return codes.contains(rv);
}

std::vector<Capability> missing_required(const std::vector<Capability>& caps) {
  std::vector<Capability> out;
  for (const Capability& c : caps)
    if (c.required && !c.ok()) out.push_back(c);
  return out;
}

std::string describe_missing(const std::vector<Capability>& missing) {
  std::string out;
  for (const Capability& c : missing) {
    if (!out.empty()) out += "; ";
    out += c.needed_for;
    if (c.status == "untried") {
      out += " (" + c.detail + ")";
      continue;
    }
    std::string how;
    if (c.status == "not-listed") {
      how = "the mechanism list has no " + c.mechanism;
    } else {
      how = c.call;
      if (!c.mechanism.empty()) how += " " + c.mechanism;
      if (!c.attribute.empty()) how += " refused " + c.attribute;
      if (!c.rv.empty()) how += ": " + c.rv;
    }
    out += " (" + how + ")";
  }
  return out;
}

std::string mechanism_name(CK_MECHANISM_TYPE m) {
  static const std::map<CK_MECHANISM_TYPE, const char*> names = {
      {CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"}, {CKM_ECDSA, "CKM_ECDSA"},
      {CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256"}, {CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD"},
      {CKM_AES_ECB_ENCRYPT_DATA, "CKM_AES_ECB_ENCRYPT_DATA"}, {CKM_AES_GCM, "CKM_AES_GCM"},
      {CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE"}, {CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"},
      {CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS"},
      {CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS"},
      {CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN"}, {CKM_EDDSA, "CKM_EDDSA"},
      {CKM_SHA256_HMAC, "CKM_SHA256_HMAC"}, {CKM_SHA256, "CKM_SHA256"}};
  const auto it = names.find(m);
  return it != names.end() ? it->second : fmt::format("CKM_0x{:x}", m);
}

std::string attribute_name(CK_ATTRIBUTE_TYPE a) {
  static const std::map<CK_ATTRIBUTE_TYPE, const char*> names = {
      {CKA_TOKEN, "CKA_TOKEN"}, {CKA_PRIVATE, "CKA_PRIVATE"}, {CKA_LABEL, "CKA_LABEL"},
      {CKA_ID, "CKA_ID"}, {CKA_SENSITIVE, "CKA_SENSITIVE"}, {CKA_EXTRACTABLE, "CKA_EXTRACTABLE"},
      {CKA_MODIFIABLE, "CKA_MODIFIABLE"}, {CKA_SIGN, "CKA_SIGN"}, {CKA_VERIFY, "CKA_VERIFY"},
      {CKA_ENCRYPT, "CKA_ENCRYPT"}, {CKA_DECRYPT, "CKA_DECRYPT"}, {CKA_WRAP, "CKA_WRAP"},
      {CKA_UNWRAP, "CKA_UNWRAP"}, {CKA_DERIVE, "CKA_DERIVE"},
      {CKA_ALLOWED_MECHANISMS, "CKA_ALLOWED_MECHANISMS"},
      {CKA_UNWRAP_TEMPLATE, "CKA_UNWRAP_TEMPLATE"}, {CKA_WRAP_TEMPLATE, "CKA_WRAP_TEMPLATE"},
      {CKA_DERIVE_TEMPLATE, "CKA_DERIVE_TEMPLATE"}, {CKA_VALUE_LEN, "CKA_VALUE_LEN"}};
  const auto it = names.find(a);
  return it != names.end() ? it->second : fmt::format("CKA_0x{:x}", a);
}

}  // namespace hsm::p11
