// An attribute template that owns its values, so building one cannot leave a dangling pointer.
// Order is kept: SoftHSM applies attributes in order and refuses any after CKA_MODIFIABLE=false
// in C_UnwrapKey/C_CopyObject, so that one is always added last.
#pragma once

#include <deque>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/pkcs11/p11.h"

namespace hsm::p11 {

class Template {
 public:
  Template() = default;
  // A copy owns copies of every value (nested templates included): the attribute array never
  // points into the template it was copied from.
  Template(const Template& other);
  Template& operator=(const Template& other);
  Template(Template&&) noexcept = default;
  Template& operator=(Template&&) noexcept = default;

  Template& set(CK_ATTRIBUTE_TYPE type, bool value);
  Template& set(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Template& set(CK_ATTRIBUTE_TYPE type, ByteView value);
  Template& set(CK_ATTRIBUTE_TYPE type, std::string_view text);
  Template& set_mechanisms(std::initializer_list<CK_MECHANISM_TYPE> mechanisms);
  Template& set_mechanisms(const std::vector<CK_MECHANISM_TYPE>& mechanisms);
  // A nested template (CKA_UNWRAP_TEMPLATE, CKA_WRAP_TEMPLATE).
  Template& set_nested(CK_ATTRIBUTE_TYPE type, const Template& inner);

  // A copy without any attribute of `type`.
  Template without(CK_ATTRIBUTE_TYPE type) const;
  // Changes the value of a boolean attribute already in the template (its place is kept);
  // false when the template has none.
  bool replace(CK_ATTRIBUTE_TYPE type, bool value);

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }
  const std::vector<CK_ATTRIBUTE>& attributes() const { return attrs_; }

 private:
  Template& add(CK_ATTRIBUTE_TYPE type, Bytes value);
  std::deque<Bytes> storage_;  // deque: stable addresses as values are added
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace hsm::p11
