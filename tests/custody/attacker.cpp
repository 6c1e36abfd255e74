// Raw PKCS#11 routes out of the token, tried as a PIN holder would.
#include "attacker.h"

#include <dlfcn.h>

#include <cstring>
#include <stdexcept>

#include "core/pkcs11/rv.h"
#include "core/pkcs11/text.h"

namespace hsm::custody {

std::string rv_text(CK_RV rv) { return p11::rv_name(rv); }

Attacker::Attacker(const std::string& module, const std::string& token_label,
                   const std::string& pin) {
  lib_ = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib_ == nullptr) throw std::runtime_error("dlopen failed");
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib_, "C_GetFunctionList"));
  get(&fn_);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  fn_->C_Initialize(&args);
  CK_ULONG n = 0;
  fn_->C_GetSlotList(CK_TRUE, nullptr, &n);
  std::vector<CK_SLOT_ID> slots(n);
  fn_->C_GetSlotList(CK_TRUE, slots.data(), &n);
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO ti{};
    fn_->C_GetTokenInfo(s, &ti);
    if (p11::padded(ti.label) != token_label) continue;
    fn_->C_OpenSession(s, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_);
    if (fn_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())),
                     pin.size()) != CKR_OK)
      throw std::runtime_error("attacker login failed");
    return;
  }
  throw std::runtime_error("token not found");
}

Attacker::~Attacker() {
  fn_->C_Logout(session_);
  fn_->C_CloseSession(session_);
  fn_->C_Finalize(nullptr);
}

std::vector<Target> Attacker::keys(const std::string& prefix) {
  std::vector<Target> out;
  fn_->C_FindObjectsInit(session_, nullptr, 0);
  CK_OBJECT_HANDLE h[256];
  CK_ULONG n = 0;
  fn_->C_FindObjects(session_, h, 256, &n);
  fn_->C_FindObjectsFinal(session_);
  for (CK_ULONG i = 0; i < n; ++i) {
    char label[256] = {};
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[] = {{CKA_LABEL, label, sizeof label - 1},
                        {CKA_CLASS, &cls, sizeof cls},
                        {CKA_KEY_TYPE, &kt, sizeof kt}};
    fn_->C_GetAttributeValue(session_, h[i], a, 3);
    if (cls != CKO_PRIVATE_KEY && cls != CKO_SECRET_KEY) continue;
    const std::string l(label, a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[0].ulValueLen);
    if (l.rfind(prefix, 0) == 0) out.push_back({h[i], l, cls, kt});
  }
  return out;
}

CK_RV Attacker::read_value(const Target& t) {
  unsigned char buf[4096];
  CK_ATTRIBUTE a{CKA_VALUE, buf, sizeof buf};
  CK_RV rv = fn_->C_GetAttributeValue(session_, t.handle, &a, 1);
  if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION) rv = CKR_ATTRIBUTE_SENSITIVE;
  // EC private keys keep the scalar in CKA_VALUE; RSA keys in CKA_PRIVATE_EXPONENT.
  if (t.cls == CKO_PRIVATE_KEY && t.key_type == CKK_RSA) {
    CK_ATTRIBUTE d{CKA_PRIVATE_EXPONENT, buf, sizeof buf};
    const CK_RV rv2 = fn_->C_GetAttributeValue(session_, t.handle, &d, 1);
    if (rv2 == CKR_OK && d.ulValueLen == CK_UNAVAILABLE_INFORMATION) return CKR_ATTRIBUTE_SENSITIVE;
    return rv2;
  }
  return rv;
}

CK_RV Attacker::raise_flag(const Target& t, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE a{type, &yes, sizeof yes};
  return fn_->C_SetAttributeValue(session_, t.handle, &a, 1);
}

CK_RV Attacker::lower_sensitive(const Target& t) {
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE a{CKA_SENSITIVE, &no, sizeof no};
  return fn_->C_SetAttributeValue(session_, t.handle, &a, 1);
}

CK_RV Attacker::copy_weaker(const Target& t, CK_ATTRIBUTE_TYPE type, bool value) {
  CK_BBOOL v = value ? CK_TRUE : CK_FALSE;
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE a[] = {{CKA_TOKEN, &no, sizeof no}, {type, &v, sizeof v}};
  CK_OBJECT_HANDLE copy = 0;
  const CK_RV rv = fn_->C_CopyObject(session_, t.handle, a, 2, &copy);
  if (rv == CKR_OK) fn_->C_DestroyObject(session_, copy);
  return rv;
}

CK_OBJECT_HANDLE Attacker::own_aes_key() {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  unsigned char value[32];
  std::memset(value, 0xA5, sizeof value);
  CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &no, sizeof no},         {CKA_WRAP, &yes, sizeof yes},
                      {CKA_UNWRAP, &yes, sizeof yes},      {CKA_ENCRYPT, &yes, sizeof yes},
                      {CKA_DECRYPT, &yes, sizeof yes},     {CKA_SENSITIVE, &no, sizeof no},
                      {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE, value, sizeof value}};
  CK_OBJECT_HANDLE h = 0;
  if (fn_->C_CreateObject(session_, a, 10, &h) != CKR_OK)
    throw std::runtime_error("attacker cannot create its own key");
  return h;
}

CK_RV Attacker::wrap_under_own_key(const Target& t) {
  const CK_OBJECT_HANDLE mine = own_aes_key();
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  unsigned char blob[8192];
  CK_ULONG len = sizeof blob;
  const CK_RV rv = fn_->C_WrapKey(session_, &m, mine, t.handle, blob, &len);
  fn_->C_DestroyObject(session_, mine);
  return rv;
}

CK_RV Attacker::wrap_under_own_rsa(const Target& t) {
  CK_MECHANISM gen{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_ULONG bits = 2048;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_WRAP, &yes, sizeof yes},
                        {CKA_MODULUS_BITS, &bits, sizeof bits}};
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, sizeof no}, {CKA_UNWRAP, &yes, sizeof yes}};
  CK_OBJECT_HANDLE pk = 0, sk = 0;
  fn_->C_GenerateKeyPair(session_, &gen, pub, 3, priv, 2, &pk, &sk);
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM m{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  unsigned char blob[8192];
  CK_ULONG len = sizeof blob;
  const CK_RV rv = fn_->C_WrapKey(session_, &m, pk, t.handle, blob, &len);
  fn_->C_DestroyObject(session_, pk);
  fn_->C_DestroyObject(session_, sk);
  return rv;
}

CK_RV Attacker::unwrap_extractable(const Target& wrapper, CK_RV* wrap_rv) {
  const CK_OBJECT_HANDLE mine = own_aes_key();
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  unsigned char blob[512];
  CK_ULONG len = sizeof blob;
  *wrap_rv = fn_->C_WrapKey(session_, &m, wrapper.handle, mine, blob, &len);
  fn_->C_DestroyObject(session_, mine);
  if (*wrap_rv != CKR_OK) return *wrap_rv;
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &no, sizeof no}, {CKA_SENSITIVE, &no, sizeof no},
                      {CKA_EXTRACTABLE, &yes, sizeof yes}};
  CK_OBJECT_HANDLE out = 0;
  const CK_RV rv = fn_->C_UnwrapKey(session_, &m, wrapper.handle, blob, len, a, 5, &out);
  if (rv == CKR_OK) fn_->C_DestroyObject(session_, out);
  return rv;
}

CK_RV Attacker::unwrap_blob_extractable(const Target& wrapper,
                                        const std::vector<unsigned char>& blob) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_EC;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &no, sizeof no}, {CKA_SENSITIVE, &no, sizeof no},
                      {CKA_EXTRACTABLE, &yes, sizeof yes}};
  CK_OBJECT_HANDLE out = 0;
  const CK_RV rv = fn_->C_UnwrapKey(session_, &m, wrapper.handle,
                                    const_cast<unsigned char*>(blob.data()), blob.size(), a, 5, &out);
  if (rv == CKR_OK) fn_->C_DestroyObject(session_, out);
  return rv;
}

CK_RV Attacker::unwrap_blob_sealed(const Target& wrapper, const std::vector<unsigned char>& blob) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_EC;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                      {CKA_TOKEN, &no, sizeof no}, {CKA_SENSITIVE, &yes, sizeof yes},
                      {CKA_EXTRACTABLE, &no, sizeof no}};
  CK_OBJECT_HANDLE out = 0;
  const CK_RV rv = fn_->C_UnwrapKey(session_, &m, wrapper.handle,
                                    const_cast<unsigned char*>(blob.data()), blob.size(), a, 5, &out);
  if (rv == CKR_OK) fn_->C_DestroyObject(session_, out);
  return rv;
}

}  // namespace hsm::custody
