// C_GetAttributeValue: the two-call form, fixed-size values, several values at once.
#include "core/pkcs11/attributes.h"

#include "core/pkcs11/rv.h"

namespace hsm::p11 {

namespace {

// The answers that mean "this attribute is not given to you" rather than a token failure.
bool not_given(CK_RV rv) {
  return rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
         rv == CKR_BUFFER_TOO_SMALL;
}

// Fixed-size attributes: one call into a buffer of the right size. A value of another size (a
// token that disagrees about the type) reads as absent, as before.
template <class T>
std::optional<T> get_fixed(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  T out{};
  CK_ATTRIBUTE a{type, &out, sizeof out};
  const CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1);
  if (not_given(rv) || a.ulValueLen != sizeof out) return std::nullopt;
  check(rv, "reading an object attribute");
  return out;
}

}  // namespace

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
  const auto v = get_fixed<CK_BBOOL>(s, h, type);
  if (!v) return std::nullopt;
  return *v != CK_FALSE;
}

std::optional<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  return get_fixed<CK_ULONG>(s, h, type);
}

std::optional<std::vector<Bytes>> get_bytes_at_once(
    const Session& s, CK_OBJECT_HANDLE h,
    std::initializer_list<std::pair<CK_ATTRIBUTE_TYPE, std::size_t>> wanted) {
  std::vector<Bytes> values;
  std::vector<CK_ATTRIBUTE> t;
  values.reserve(wanted.size());
  t.reserve(wanted.size());
  for (const auto& [type, max] : wanted) {
    values.emplace_back(max);
    t.push_back({type, values.back().data(), values.back().size()});
  }
  const CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, t.data(), t.size());
  if (not_given(rv)) return std::nullopt;
  check(rv, "reading an object attribute");  // a token failure is not "ask another way"
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[i].ulValueLen > values[i].size())
      return std::nullopt;
    values[i].resize(t[i].ulValueLen);
  }
  return values;
}

std::string get_text(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  auto v = get_bytes(s, h, type);
  return v ? std::string(v->begin(), v->end()) : std::string{};
}

}  // namespace hsm::p11
