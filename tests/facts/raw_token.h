// The fixture of the SoftHSM fact checks: a throwaway token (softhsm2-util, in a temp dir) and
// SoftHSM loaded with dlopen, driven by raw PKCS#11 calls with none of hsmctl's code or
// templates, so that what the checks see is the module's own behaviour. Never touches a real
// token: SOFTHSM2_CONF points at the temp dir before the module is initialised.
#pragma once

#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>

#include <deque>
#include <string>
#include <vector>

#include "support/hsm_fixture.h"

namespace hsm::facts {

using Bytes = std::vector<unsigned char>;

// A PKCS#11 template that owns the values its attributes point at.
class Tmpl {
 public:
  Tmpl() = default;
  Tmpl(const Tmpl&) = delete;  // a copy would point into the original's values
  Tmpl& operator=(const Tmpl&) = delete;
  Tmpl(Tmpl&&) = default;  // moving keeps every value where it is
  Tmpl& operator=(Tmpl&&) = default;
  Tmpl& flag(CK_ATTRIBUTE_TYPE type, bool value);
  Tmpl& num(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Tmpl& bytes(CK_ATTRIBUTE_TYPE type, const Bytes& value);
  Tmpl& text(CK_ATTRIBUTE_TYPE type, const std::string& value);
  Tmpl& mechanisms(const std::vector<CK_MECHANISM_TYPE>& allowed);  // CKA_ALLOWED_MECHANISMS
  // An array attribute (CKA_UNWRAP_TEMPLATE, ...) holding `inner`, which must outlive this.
  Tmpl& nested(CK_ATTRIBUTE_TYPE type, Tmpl& inner);
  CK_ATTRIBUTE* data() { return attrs_.empty() ? nullptr : attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }

 private:
  Tmpl& add(CK_ATTRIBUTE_TYPE type, const void* p, size_t n);
  std::vector<CK_ATTRIBUTE> attrs_;
  std::deque<Bytes> store_;  // deque: elements never move, so the pointers above stay valid
};

// Templates the checks start from: a secret AES-256 key (generated or of a known value), an
// EC P-256 pair; each returns a template to extend.
Tmpl aes_template(bool token);
Tmpl aes_value_template(const Bytes& value, bool token);
Bytes p256_params();

class RawToken : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  CK_FUNCTION_LIST* p11() const { return fn_; }
  CK_SESSION_HANDLE session() const { return session_; }
  CK_RV login_user();
  CK_RV login_so();
  void logout();

  // Each of these asserts success and returns the new handle.
  CK_OBJECT_HANDLE generate_aes(Tmpl t);
  CK_OBJECT_HANDLE create(Tmpl t);
  // An EC P-256 pair; `priv` extends the private key's template. Returns the private key.
  CK_OBJECT_HANDLE generate_p256(Tmpl priv, bool token);

  CK_RV generate_aes_rv(Tmpl t, CK_OBJECT_HANDLE* out);
  CK_RV create_rv(Tmpl t, CK_OBJECT_HANDLE* out);
  CK_RV copy(CK_OBJECT_HANDLE h, Tmpl t, CK_OBJECT_HANDLE* out = nullptr);
  CK_RV set(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool value);
  // -1 when the attribute cannot be read.
  int get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
  // CKA_VALUE, or the CK_RV of the failed read in `rv`.
  Bytes value(CK_OBJECT_HANDLE h, CK_RV* rv);
  CK_RV wrap(CK_MECHANISM_TYPE m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, Bytes* blob);
  CK_RV unwrap(CK_OBJECT_HANDLE wrapping, const Bytes& blob, Tmpl t, CK_OBJECT_HANDLE* out);
  // C_DeriveKey(base, CKM_AES_ECB_ENCRYPT_DATA, data) into a key of template `t`.
  CK_RV derive_ecb(CK_OBJECT_HANDLE base, const Bytes& data, Tmpl t, CK_OBJECT_HANDLE* out);
  // C_EncryptInit or C_DecryptInit of `m` (no parameter) under `key`, then one-shot.
  CK_RV ecb(bool encrypt, CK_OBJECT_HANDLE key, const Bytes& in, Bytes* out);

 private:
  test::TempDir tmp_;
  void* lib_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  CK_SLOT_ID slot_ = 0;
  CK_SESSION_HANDLE session_ = 0;
};

// Hex, for messages.
std::string hex(const Bytes& b);

}  // namespace hsm::facts
