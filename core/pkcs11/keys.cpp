// C_GenerateKeyPair, C_CreateObject, C_FindObjects by id, C_Sign.
#include "core/pkcs11/keys.h"

#include <array>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/attributes.h"
#include "core/pkcs11/rv.h"

namespace hsm::p11 {

namespace {

constexpr std::size_t kWrapBufferSize = 4096;  // wrap_key: one call for every key we make

std::optional<KeyHandle> find_one(const Session& s, Template& t) {
  check(s.fn()->C_FindObjectsInit(s.handle(), t.data(), t.size()), "searching for a key");
  CK_OBJECT_HANDLE h[2];
  CK_ULONG n = 0;
  const CK_RV rv = s.fn()->C_FindObjects(s.handle(), h, 2, &n);
  const CK_RV ended = s.fn()->C_FindObjectsFinal(s.handle());  // see find_handles
  check(rv, "searching for a key");
  check(ended, "ending a search");
  if (n == 0) return std::nullopt;
  return h[0];
}

std::optional<KeyHandle> find_by_id(const Session& s, CK_ULONG cls, ByteView id) {
  Template t;
  t.set(CKA_CLASS, cls).set(CKA_ID, id);
  return find_one(s, t);
}

}  // namespace

KeyPair generate_pair(const Session& s, KeyAlgorithm algorithm, PairTemplates& t) {
  CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  if (algorithm == KeyAlgorithm::rsa3072 || algorithm == KeyAlgorithm::rsa4096)
    m.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
  if (algorithm == KeyAlgorithm::ed25519) m.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
  KeyPair p;
  check(s.fn()->C_GenerateKeyPair(s.handle(), &m, t.public_key.data(), t.public_key.size(),
                                  t.private_key.data(), t.private_key.size(), &p.public_key,
                                  &p.private_key),
        "generating a key pair");
  return p;
}

KeyHandle create_object(const Session& s, Template& t) {
  KeyHandle h = 0;
  check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h), "creating a key object");
  return h;
}

std::optional<KeyHandle> find_private_key(const Session& s, ByteView id) {
  return find_by_id(s, CKO_PRIVATE_KEY, id);
}

std::optional<KeyHandle> find_public_key(const Session& s, ByteView id) {
  return find_by_id(s, CKO_PUBLIC_KEY, id);
}

std::optional<KeyHandle> find_secret_key(const Session& s, const std::string& label) {
  Template t;
  t.set(CKA_CLASS, CK_ULONG{CKO_SECRET_KEY}).set(CKA_LABEL, std::string_view(label));
  return find_one(s, t);
}

Bytes public_key_spki(const Session& s, KeyHandle pub) {
  // Two calls for the usual keys (type, then its public parts at once: up to RSA-8192 and
  // P-521), the attribute-by-attribute form only if the token does not answer that.
  const CK_ULONG type = get_ulong(s, pub, CKA_KEY_TYPE).value_or(~0UL);
  auto one = [&](CK_ATTRIBUTE_TYPE a) { return get_bytes(s, pub, a).value_or(Bytes{}); };
  if (type == CKK_RSA) {
    if (auto v = get_bytes_at_once(s, pub, {{CKA_MODULUS, 1024}, {CKA_PUBLIC_EXPONENT, 16}}))
      return crypto::rsa_spki((*v)[0], (*v)[1]);
    return crypto::rsa_spki(one(CKA_MODULUS), one(CKA_PUBLIC_EXPONENT));
  }
  if (type == CKK_EC_EDWARDS) return crypto::ed25519_spki(one(CKA_EC_POINT));
  if (auto v = get_bytes_at_once(s, pub, {{CKA_EC_PARAMS, 64}, {CKA_EC_POINT, 160}}))
    return crypto::ec_spki((*v)[0], (*v)[1]);
  return crypto::ec_spki(one(CKA_EC_PARAMS), one(CKA_EC_POINT));
}

Bytes public_key_spki(const Session& s, KeyHandle pub, KeyAlgorithm algorithm) {
  std::optional<std::vector<Bytes>> v;
  switch (algorithm) {
    case KeyAlgorithm::ec_p256:
    case KeyAlgorithm::ec_p384:
      // The parameters are the ones we generated it with; only the point is new.
      if ((v = get_bytes_at_once(s, pub, {{CKA_EC_POINT, 160}})))
        return crypto::ec_spki(ec_params(algorithm), (*v)[0]);
      break;
    case KeyAlgorithm::rsa3072:
    case KeyAlgorithm::rsa4096:
      if ((v = get_bytes_at_once(s, pub, {{CKA_MODULUS, 1024}, {CKA_PUBLIC_EXPONENT, 16}})))
        return crypto::rsa_spki((*v)[0], (*v)[1]);
      break;
    case KeyAlgorithm::ed25519: break;
  }
  return public_key_spki(s, pub);
}

Bytes wrap_key(const Session& s, KeyHandle wrapping, KeyHandle key) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  // One call with room for any P-256..P-521 or RSA-4096 blob: a size query first would make the
  // token wrap twice (SoftHSM does the whole wrap to answer it, and re-reads the wrapping key's
  // object file each time). A larger key gets the two-call form.
  std::array<std::uint8_t, kWrapBufferSize> buffer;  // a blob is ciphertext: not a Secret
  CK_ULONG len = buffer.size();
  CK_RV rv = s.fn()->C_WrapKey(s.handle(), &m, wrapping, key, buffer.data(), &len);
  if (rv == CKR_OK) return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(len));
  Bytes blob;
  if (rv == CKR_BUFFER_TOO_SMALL) {
    blob.resize(len);
    rv = s.fn()->C_WrapKey(s.handle(), &m, wrapping, key, blob.data(), &len);
  }
  if (rv == CKR_KEY_NOT_WRAPPABLE)
    throw TokenError(Category::token, "this token cannot wrap keys of this type (" +
                                          rv_name(rv) + "), so they cannot be escrowed",
                     rv);
  check(rv, "wrapping a key");
  blob.resize(len);
  return blob;
}

KeyHandle unwrap_key(const Session& s, KeyHandle wrapping, ByteView blob, Template& t) {
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  KeyHandle h = 0;
  const CK_RV rv = s.fn()->C_UnwrapKey(s.handle(), &m, wrapping,
                                       const_cast<std::uint8_t*>(blob.data()), blob.size(),
                                       t.data(), t.size(), &h);
  switch (rv) {
    case CKR_OK: return h;
    // SoftHSM answers CKR_GENERAL_ERROR when the RFC 5649 integrity check fails.
    case CKR_GENERAL_ERROR:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
      throw TokenError(Category::integrity,
                       "a wrapped key does not unwrap: it was changed, or wrapped under another "
                       "master key", rv);
    default: check(rv, "unwrapping a key");
  }
  return h;
}

std::optional<Bytes> check_value(const Session& s, KeyHandle key) {
  return get_bytes(s, key, CKA_CHECK_VALUE);
}

namespace {

// C_SignInit + C_Sign (length query, then the signature).
Bytes sign_once(const Session& s, KeyHandle key, CK_MECHANISM& m, ByteView data) {
  check(s.fn()->C_SignInit(s.handle(), &m, key), "starting a signature");
  CK_ULONG len = 0;
  check(s.fn()->C_Sign(s.handle(), const_cast<std::uint8_t*>(data.data()), data.size(), nullptr,
                       &len),
        "signing");
  Bytes sig(len);
  check(s.fn()->C_Sign(s.handle(), const_cast<std::uint8_t*>(data.data()), data.size(),
                       sig.data(), &len),
        "signing");
  sig.resize(len);
  return sig;
}

}  // namespace

Bytes sign(const Session& s, KeyHandle key, SignMechanism mechanism, ByteView data) {
  CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM m{mechanism_type(mechanism), nullptr, 0};
  if (mechanism == SignMechanism::rsa_pss_sha256) {
    m.pParameter = &pss;
    m.ulParameterLen = sizeof pss;
  }
  // SoftHSM 2.6.1 has no CKM_ECDSA_SHA256/384: the host hashes and the token signs the digest
  // with CKM_ECDSA, which gives the same signature.
  Bytes digest;
  if (mechanism == SignMechanism::ecdsa_sha256) digest = crypto::sha256(data);
  if (mechanism == SignMechanism::ecdsa_sha384) digest = crypto::sha384(data);
  if (!digest.empty()) data = digest;
  return sign_once(s, key, m, data);
}

Bytes sign_digest(const Session& s, KeyHandle key, SignMechanism mechanism, ByteView digest) {
  // Only ECDSA signs a bare digest with the mechanism the key allows (CKM_ECDSA); the RSA-PSS
  // and EdDSA keys allow only their hashing mechanism.
  if (mechanism != SignMechanism::ecdsa_sha256 && mechanism != SignMechanism::ecdsa_sha384)
    fail(Category::usage, "this key signs data, not a digest made elsewhere");
  CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
  return sign_once(s, key, m, digest);
}

}  // namespace hsm::p11
