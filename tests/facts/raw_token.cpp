// Raw PKCS#11 over a throwaway SoftHSM token, for the fact checks (see raw_token.h).
#include "raw_token.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

namespace hsm::facts {

Tmpl& Tmpl::add(CK_ATTRIBUTE_TYPE type, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  store_.emplace_back(b, b + n);
  attrs_.push_back({type, store_.back().empty() ? nullptr : store_.back().data(), n});
  return *this;
}

Tmpl& Tmpl::flag(CK_ATTRIBUTE_TYPE type, bool value) {
  const CK_BBOOL v = value ? CK_TRUE : CK_FALSE;
  return add(type, &v, sizeof v);
}

Tmpl& Tmpl::num(CK_ATTRIBUTE_TYPE type, CK_ULONG value) { return add(type, &value, sizeof value); }

Tmpl& Tmpl::bytes(CK_ATTRIBUTE_TYPE type, const Bytes& value) {
  return add(type, value.data(), value.size());
}

Tmpl& Tmpl::text(CK_ATTRIBUTE_TYPE type, const std::string& value) {
  return add(type, value.data(), value.size());
}

Tmpl& Tmpl::mechanisms(const std::vector<CK_MECHANISM_TYPE>& allowed) {
  return add(CKA_ALLOWED_MECHANISMS, allowed.data(), allowed.size() * sizeof(CK_MECHANISM_TYPE));
}

Tmpl& Tmpl::nested(CK_ATTRIBUTE_TYPE type, Tmpl& inner) {
  return add(type, inner.data(), inner.size() * sizeof(CK_ATTRIBUTE));
}

Tmpl aes_template(bool token) {
  Tmpl t;
  t.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).flag(CKA_TOKEN, token)
      .flag(CKA_PRIVATE, true).num(CKA_VALUE_LEN, 32);
  return t;
}

Tmpl aes_value_template(const Bytes& value, bool token) {
  Tmpl t;
  t.num(CKA_CLASS, CKO_SECRET_KEY).num(CKA_KEY_TYPE, CKK_AES).flag(CKA_TOKEN, token)
      .flag(CKA_PRIVATE, true).bytes(CKA_VALUE, value);
  return t;
}

Bytes p256_params() {  // DER OID 1.2.840.10045.3.1.7
  return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
}

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

void RawToken::SetUp() {
  test::SoftHsm hsm(tmp_.path() / "softhsm");
  hsm.init_token("facts");
  ASSERT_FALSE(HasFatalFailure());
  ::setenv("SOFTHSM2_CONF", hsm.conf().c_str(), 1);
  lib_ = ::dlopen(HSMCTL_SOFTHSM_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib_, nullptr) << ::dlerror();
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib_, "C_GetFunctionList"));
  ASSERT_NE(get, nullptr);
  ASSERT_EQ(get(&fn_), CKR_OK);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  ASSERT_EQ(fn_->C_Initialize(&args), CKR_OK);
  CK_SLOT_ID slots[8];
  CK_ULONG n = 8;
  ASSERT_EQ(fn_->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
  bool found = false;  // the token initialised above (SoftHSM also lists an empty slot)
  for (CK_ULONG i = 0; i < n && !found; ++i) {
    CK_TOKEN_INFO ti{};
    if (fn_->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
      continue;
    slot_ = slots[i];
    found = true;
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(fn_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr,
                               &session_), CKR_OK);
}

void RawToken::TearDown() {
  if (fn_ != nullptr) {
    fn_->C_CloseAllSessions(slot_);
    fn_->C_Finalize(nullptr);
  }
  if (lib_ != nullptr) ::dlclose(lib_);
}

CK_RV RawToken::login_user() {
  std::string pin = test::kPin;
  return fn_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
}

CK_RV RawToken::login_so() {
  std::string pin = test::kSoPin;
  return fn_->C_Login(session_, CKU_SO, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
}

void RawToken::logout() { fn_->C_Logout(session_); }

CK_RV RawToken::generate_aes_rv(Tmpl t, CK_OBJECT_HANDLE* out) {
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  return fn_->C_GenerateKey(session_, &m, t.data(), t.size(), out);
}

CK_OBJECT_HANDLE RawToken::generate_aes(Tmpl t) {
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(generate_aes_rv(std::move(t), &h), CKR_OK);
  return h;
}

CK_RV RawToken::create_rv(Tmpl t, CK_OBJECT_HANDLE* out) {
  return fn_->C_CreateObject(session_, t.data(), t.size(), out);
}

CK_OBJECT_HANDLE RawToken::create(Tmpl t) {
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(create_rv(std::move(t), &h), CKR_OK);
  return h;
}

CK_OBJECT_HANDLE RawToken::generate_p256(Tmpl priv, bool token) {
  Tmpl pub;
  pub.flag(CKA_TOKEN, token).flag(CKA_VERIFY, true).bytes(CKA_EC_PARAMS, p256_params());
  priv.flag(CKA_TOKEN, token).flag(CKA_PRIVATE, true).flag(CKA_SIGN, true);
  CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pk = 0, sk = 0;
  EXPECT_EQ(fn_->C_GenerateKeyPair(session_, &m, pub.data(), pub.size(), priv.data(), priv.size(),
                                   &pk, &sk), CKR_OK);
  return sk;
}

CK_RV RawToken::copy(CK_OBJECT_HANDLE h, Tmpl t, CK_OBJECT_HANDLE* out) {
  CK_OBJECT_HANDLE made = 0;
  const CK_RV rv = fn_->C_CopyObject(session_, h, t.data(), t.size(), &made);
  if (out != nullptr) *out = made;
  return rv;
}

CK_RV RawToken::set(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool value) {
  Tmpl t;
  t.flag(type, value);
  return fn_->C_SetAttributeValue(session_, h, t.data(), t.size());
}

int RawToken::get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL v = CK_FALSE;
  CK_ATTRIBUTE a{type, &v, sizeof v};
  if (fn_->C_GetAttributeValue(session_, h, &a, 1) != CKR_OK) return -1;
  return v == CK_TRUE ? 1 : 0;
}

Bytes RawToken::value(CK_OBJECT_HANDLE h, CK_RV* rv) {
  Bytes out(4096);
  CK_ATTRIBUTE a{CKA_VALUE, out.data(), out.size()};
  *rv = fn_->C_GetAttributeValue(session_, h, &a, 1);
  if (*rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION) *rv = CKR_ATTRIBUTE_SENSITIVE;
  out.resize(*rv == CKR_OK ? a.ulValueLen : 0);
  return out;
}

CK_RV RawToken::wrap(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                     Bytes* blob) {
  CK_MECHANISM m{type, nullptr, 0};
  blob->assign(8192, 0);
  CK_ULONG len = blob->size();
  const CK_RV rv = fn_->C_WrapKey(session_, &m, wrapping, key, blob->data(), &len);
  blob->resize(rv == CKR_OK ? len : 0);
  return rv;
}

CK_RV RawToken::unwrap(CK_OBJECT_HANDLE wrapping, const Bytes& blob, Tmpl t,
                       CK_OBJECT_HANDLE* out) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  Bytes b = blob;
  *out = 0;
  return fn_->C_UnwrapKey(session_, &m, wrapping, b.data(), b.size(), t.data(), t.size(), out);
}

CK_RV RawToken::derive_ecb(CK_OBJECT_HANDLE base, const Bytes& data, Tmpl t,
                           CK_OBJECT_HANDLE* out) {
  Bytes d = data;
  CK_KEY_DERIVATION_STRING_DATA p{d.data(), d.size()};
  CK_MECHANISM m{CKM_AES_ECB_ENCRYPT_DATA, &p, sizeof p};
  *out = 0;
  return fn_->C_DeriveKey(session_, &m, base, t.data(), t.size(), out);
}

CK_RV RawToken::ecb(bool encrypt, CK_OBJECT_HANDLE key, const Bytes& in, Bytes* out) {
  CK_MECHANISM m{CKM_AES_ECB, nullptr, 0};
  const CK_RV init = encrypt ? fn_->C_EncryptInit(session_, &m, key)
                             : fn_->C_DecryptInit(session_, &m, key);
  if (init != CKR_OK) return init;
  Bytes i = in;
  out->assign(in.size(), 0);
  CK_ULONG len = out->size();
  const CK_RV rv = encrypt ? fn_->C_Encrypt(session_, i.data(), i.size(), out->data(), &len)
                           : fn_->C_Decrypt(session_, i.data(), i.size(), out->data(), &len);
  out->resize(rv == CKR_OK ? len : 0);
  return rv;
}

}  // namespace hsm::facts
