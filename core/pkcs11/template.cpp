// Template storage.
#include "core/pkcs11/template.h"

#include <cstring>

namespace hsm::p11 {

Template& Template::add(CK_ATTRIBUTE_TYPE type, Bytes value) {
  storage_.push_back(std::move(value));
  Bytes& v = storage_.back();
  attrs_.push_back(CK_ATTRIBUTE{type, v.empty() ? nullptr : v.data(), v.size()});
  return *this;
}

Template& Template::set(CK_ATTRIBUTE_TYPE type, bool value) {
  return add(type, Bytes{static_cast<std::uint8_t>(value ? CK_TRUE : CK_FALSE)});
}

Template& Template::set(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  Bytes b(sizeof value);
  std::memcpy(b.data(), &value, sizeof value);
  return add(type, std::move(b));
}

Template& Template::set(CK_ATTRIBUTE_TYPE type, ByteView value) {
  return add(type, Bytes(value.begin(), value.end()));
}

Template& Template::set(CK_ATTRIBUTE_TYPE type, std::string_view text) {
  return add(type, to_bytes(text));
}

Template& Template::set_mechanisms(std::initializer_list<CK_MECHANISM_TYPE> mechanisms) {
  Bytes b(mechanisms.size() * sizeof(CK_MECHANISM_TYPE));
  std::memcpy(b.data(), std::data(mechanisms), b.size());
  return add(CKA_ALLOWED_MECHANISMS, std::move(b));
}

Template& Template::set_mechanisms(const std::vector<CK_MECHANISM_TYPE>& mechanisms) {
  Bytes b(mechanisms.size() * sizeof(CK_MECHANISM_TYPE));
  if (!b.empty()) std::memcpy(b.data(), mechanisms.data(), b.size());
  return add(CKA_ALLOWED_MECHANISMS, std::move(b));
}

namespace {

bool is_nested(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE;
}

}  // namespace

Template::Template(const Template& other) { *this = other; }

Template& Template::operator=(const Template& other) {
  if (this == &other) return *this;
  Template copy;
  for (const CK_ATTRIBUTE& a : other.attrs_) {
    if (is_nested(a.type)) {
      Template inner;
      const auto* nested = static_cast<const CK_ATTRIBUTE*>(a.pValue);
      for (CK_ULONG i = 0; i < a.ulValueLen / sizeof(CK_ATTRIBUTE); ++i) {
        const auto* v = static_cast<const std::uint8_t*>(nested[i].pValue);
        inner.add(nested[i].type, Bytes(v, v + nested[i].ulValueLen));
      }
      copy.set_nested(a.type, inner);
    } else {
      const auto* v = static_cast<const std::uint8_t*>(a.pValue);
      copy.add(a.type, v == nullptr ? Bytes() : Bytes(v, v + a.ulValueLen));
    }
  }
  storage_ = std::move(copy.storage_);
  attrs_ = std::move(copy.attrs_);
  return *this;
}

Template Template::without(CK_ATTRIBUTE_TYPE type) const {
  Template t(*this);
  std::erase_if(t.attrs_, [type](const CK_ATTRIBUTE& a) { return a.type == type; });
  return t;
}

bool Template::replace(CK_ATTRIBUTE_TYPE type, bool value) {
  bool found = false;
  for (CK_ATTRIBUTE& a : attrs_)
    if (a.type == type && a.ulValueLen == 1) {
      *static_cast<CK_BBOOL*>(a.pValue) = value ? CK_TRUE : CK_FALSE;
      found = true;
    }
  return found;
}

Template& Template::set_nested(CK_ATTRIBUTE_TYPE type, const Template& inner) {
  // The nested CK_ATTRIBUTE array points into `inner`'s storage; copy that storage here too.
  Bytes array(inner.attrs_.size() * sizeof(CK_ATTRIBUTE));
  std::vector<CK_ATTRIBUTE> copy = inner.attrs_;
  for (auto& a : copy) {
    storage_.emplace_back(static_cast<const std::uint8_t*>(a.pValue),
                          static_cast<const std::uint8_t*>(a.pValue) + a.ulValueLen);
    a.pValue = storage_.back().data();
  }
  std::memcpy(array.data(), copy.data(), array.size());
  return add(type, std::move(array));
}

}  // namespace hsm::p11
