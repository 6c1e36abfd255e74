// C_GetAttributeValue in its two-call form.
#include "core/pkcs11/attributes.h"

#include <cstring>

#include "core/pkcs11/rv.h"

namespace hsm::p11 {

std::optional<Bytes> get_bytes(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    return std::nullopt;
  check(rv, "reading an object attribute");
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  check(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), "reading an object attribute");
  value.resize(a.ulValueLen);
  return value;
}

std::optional<bool> get_bool(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  auto v = get_bytes(s, h, type);
  if (!v || v->size() != sizeof(CK_BBOOL)) return std::nullopt;
  return (*v)[0] != CK_FALSE;
}

std::optional<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  auto v = get_bytes(s, h, type);
  if (!v || v->size() != sizeof(CK_ULONG)) return std::nullopt;
  CK_ULONG out = 0;
  std::memcpy(&out, v->data(), sizeof out);
  return out;
}

std::string get_text(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  auto v = get_bytes(s, h, type);
  return v ? std::string(v->begin(), v->end()) : std::string{};
}

}  // namespace hsm::p11
