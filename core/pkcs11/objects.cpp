// C_FindObjects and attribute summaries.
#include "core/pkcs11/objects.h"

#include "core/pkcs11/attributes.h"
#include "core/pkcs11/rv.h"

namespace hsm::p11 {

namespace {

std::string class_name(CK_ULONG c) {
  switch (c) {
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_PRIVATE_KEY: return "private-key";
    case CKO_PUBLIC_KEY: return "public-key";
    case CKO_CERTIFICATE: return "certificate";
    case CKO_DATA: return "data";
    default: return "other";
  }
}

std::string key_type_name(CK_ULONG k) {
  switch (k) {
    case CKK_AES: return "aes";
    case CKK_EC: return "ec";
    case CKK_RSA: return "rsa";
    case CKK_EC_EDWARDS: return "ec-edwards";
    case CKK_GENERIC_SECRET: return "generic-secret";
    default: return "other";
  }
}

std::vector<CK_OBJECT_HANDLE> find_handles(const Session& s, CK_ATTRIBUTE* tmpl, CK_ULONG n) {
  check(s.fn()->C_FindObjectsInit(s.handle(), tmpl, n), "searching objects");
  std::vector<CK_OBJECT_HANDLE> out;
  CK_OBJECT_HANDLE batch[64];
  CK_ULONG got = 0;
  CK_RV rv;
  while ((rv = s.fn()->C_FindObjects(s.handle(), batch, 64, &got)) == CKR_OK && got > 0)
    out.insert(out.end(), batch, batch + got);
  // A search that is not ended leaves the session busy: the next call would fail with
  // CKR_OPERATION_ACTIVE and hide this cause.
  const CK_RV ended = s.fn()->C_FindObjectsFinal(s.handle());
  check(rv, "searching objects");
  check(ended, "ending a search");
  return out;
}

}  // namespace

ObjectInfo describe_object(const Session& s, unsigned long h) {
  ObjectInfo o;
  o.handle = h;
  o.label = get_text(s, h, CKA_LABEL);
  o.id = get_bytes(s, h, CKA_ID).value_or(Bytes{});
  const CK_ULONG cls = get_ulong(s, h, CKA_CLASS).value_or(~0UL);
  o.object_class = class_name(cls);
  if (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY)
    o.key_type = key_type_name(get_ulong(s, h, CKA_KEY_TYPE).value_or(~0UL));
  o.token = get_bool(s, h, CKA_TOKEN);
  o.is_private = get_bool(s, h, CKA_PRIVATE);
  o.modifiable = get_bool(s, h, CKA_MODIFIABLE);
  if (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY) {
    o.sensitive = get_bool(s, h, CKA_SENSITIVE);
    o.extractable = get_bool(s, h, CKA_EXTRACTABLE);
    o.always_sensitive = get_bool(s, h, CKA_ALWAYS_SENSITIVE);
    o.never_extractable = get_bool(s, h, CKA_NEVER_EXTRACTABLE);
  }
  if (cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY)
    o.local = get_bool(s, h, CKA_LOCAL);
  if (cls == CKO_SECRET_KEY) o.check_value = get_bytes(s, h, CKA_CHECK_VALUE);
  return o;
}

std::vector<ObjectInfo> list_objects(const Session& s) {
  std::vector<ObjectInfo> out;
  for (CK_OBJECT_HANDLE h : find_handles(s, nullptr, 0)) out.push_back(describe_object(s, h));
  return out;
}

std::vector<ObjectInfo> find_by_label(const Session& s, const std::string& label) {
  CK_ATTRIBUTE t{CKA_LABEL, const_cast<char*>(label.data()), label.size()};
  std::vector<ObjectInfo> out;
  for (CK_OBJECT_HANDLE h : find_handles(s, &t, 1)) out.push_back(describe_object(s, h));
  return out;
}

void destroy_object(const Session& s, unsigned long handle) {
  check(s.fn()->C_DestroyObject(s.handle(), handle), "destroying an object");
}

}  // namespace hsm::p11
