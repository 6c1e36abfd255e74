// OpenSSL 3 public-key plumbing (EVP_PKEY_fromdata, i2d_PUBKEY, ECDSA_SIG).
#include "core/crypto/public_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/error.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace hsm::crypto {

void PkeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

Pkey from_params(const char* type, OSSL_PARAM* params) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  const bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) fail(Category::integrity, std::string("the token returned an unusable ") + type +
                                         " public key");
  return Pkey(key);
}

// A value of `size` bytes, given either bare or wrapped in a DER OCTET STRING (tokens differ):
// decided by length alone, since a bare value may itself begin like an OCTET STRING header (a
// P-256 point whose X starts with 0x3F read as "04 3F ..." once in 256 keys).
ByteView value_of_size(ByteView p, std::size_t size) {
  if (p.size() == size) return p;
  if (size < 0x80 && p.size() == size + 2 && p[0] == 0x04 && p[1] == size) return p.subspan(2);
  if (size < 0x100 && p.size() == size + 3 && p[0] == 0x04 && p[1] == 0x81 && p[2] == size)
    return p.subspan(3);
  return p;  // neither: the caller's checks refuse it
}

// Strips a DER OCTET STRING header if `p` is one wrapping the rest (curves of unknown size).
ByteView unwrap_octet_string(ByteView p) {
  if (p.size() >= 2 && p[0] == 0x04) {
    if (p[1] < 0x80 && p[1] == p.size() - 2) return p.subspan(2);
    if (p[1] == 0x81 && p.size() >= 3 && p[2] == p.size() - 3) return p.subspan(3);
  }
  return p;
}

}  // namespace

const Bytes& p256_params_der() {
  static const Bytes oid{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  return oid;
}

const Bytes& p384_params_der() {
  static const Bytes oid{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
  return oid;
}

namespace {

// The curves hsmctl makes keys on, with the DER that opens their SubjectPublicKeyInfo (SEQUENCE,
// AlgorithmIdentifier{id-ecPublicKey, curve OID}, BIT STRING header) up to the point itself.
struct NamedCurve {
  int nid;
  Bytes params_der;  // the curve OID, as CKA_EC_PARAMS holds it
  Bytes spki_prefix;
  std::size_t point_size;  // uncompressed: 04 || X || Y
};

const std::vector<NamedCurve>& named_curves() {
  static const std::vector<NamedCurve> curves = {
      {NID_X9_62_prime256v1, p256_params_der(),
       {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00},
       65},
      {NID_secp384r1, p384_params_der(),
       {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00},
       97},
  };
  return curves;
}

// The group of a named curve, made once: building one costs more than the rest of an SPKI.
const EC_GROUP* group_of(int nid) {
  static EC_GROUP* const p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  static EC_GROUP* const p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  return nid == NID_X9_62_prime256v1 ? p256 : nid == NID_secp384r1 ? p384 : nullptr;
}

// The fast route for P-256 and P-384: checks the point is on the curve with a cached group and
// frames the DER directly. Returns nullopt for any other curve (the general route handles it).
std::optional<Bytes> named_curve_spki(ByteView ec_params_der, ByteView point) {
  for (const NamedCurve& c : named_curves()) {
    if (!std::equal(ec_params_der.begin(), ec_params_der.end(), c.params_der.begin(),
                    c.params_der.end()))
      continue;
    point = value_of_size(point, c.point_size);
    const EC_GROUP* group = group_of(c.nid);
    EC_POINT* p = group != nullptr ? EC_POINT_new(group) : nullptr;
    const bool ok = p != nullptr && point.size() == c.point_size && point[0] == 0x04 &&
                    EC_POINT_oct2point(group, p, point.data(), point.size(), nullptr) == 1 &&
                    EC_POINT_is_on_curve(group, p, nullptr) == 1;
    EC_POINT_free(p);
    if (!ok) fail(Category::integrity, "the token returned an unusable EC public key");
    Bytes out = c.spki_prefix;
    out.insert(out.end(), point.begin(), point.end());
    return out;
  }
  return std::nullopt;
}

}  // namespace

Bytes ec_spki(ByteView ec_params_der, ByteView ec_point) {
  if (auto fast = named_curve_spki(ec_params_der, ec_point)) return *fast;
  const unsigned char* q = ec_params_der.data();
  ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &q, static_cast<long>(ec_params_der.size()));
  if (oid == nullptr) fail(Category::integrity, "unknown EC curve parameters");
  const char* curve = OBJ_nid2sn(OBJ_obj2nid(oid));
  ASN1_OBJECT_free(oid);
  if (curve == nullptr) fail(Category::integrity, "unknown EC curve");
  ByteView point = unwrap_octet_string(ec_point);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  return spki_der(from_params("EC", params).get());
}

Bytes rsa_spki(ByteView modulus, ByteView exponent) {
  BIGNUM* n = BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr);
  BIGNUM* e = BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  Bytes out;
  try {
    out = spki_der(from_params("RSA", params).get());
  } catch (...) {
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    throw;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return out;
}

Bytes ed25519_spki(ByteView key32) {
  ByteView k = value_of_size(key32, 32);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(k.data()), k.size()),
      OSSL_PARAM_construct_end()};
  return spki_der(from_params("ED25519", params).get());
}

PublicParts public_parts(ByteView spki) {
  Pkey k = load_spki(spki);
  PublicParts p;
  if (EVP_PKEY_is_a(k.get(), "RSA")) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    p.modulus.resize(static_cast<size_t>(BN_num_bytes(n)));
    p.exponent.resize(static_cast<size_t>(BN_num_bytes(e)));
    BN_bn2bin(n, p.modulus.data());
    BN_bn2bin(e, p.exponent.data());
    BN_free(n);
    BN_free(e);
    return p;
  }
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len);
  Bytes point(len);
  EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), len, &len);
  p.ec_point = {0x04};
  if (len < 128) {
    p.ec_point.push_back(static_cast<std::uint8_t>(len));
  } else {
    p.ec_point.push_back(0x81);
    p.ec_point.push_back(static_cast<std::uint8_t>(len));
  }
  p.ec_point.insert(p.ec_point.end(), point.begin(), point.end());
  return p;
}

Pkey load_spki(ByteView der) {
  // A P-256 key (every transcript and log key) is the fixed DER header of id-ecPublicKey with
  // prime256v1 and the uncompressed point: built from the point (which OpenSSL checks is on
  // the curve) it costs a seventh of d2i_PUBKEY, whose first call in a process also sets up
  // OpenSSL 3's decoders (half a millisecond on every command that checks a transcript entry).
  static constexpr std::uint8_t kP256Header[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
                                                 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                                                 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
                                                 0x42, 0x00, 0x04};
  if (der.size() == sizeof kP256Header + 64 &&
      std::equal(std::begin(kP256Header), std::end(kP256Header), der.begin())) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                         const_cast<char*>("prime256v1"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                          const_cast<std::uint8_t*>(der.data()) + 26, 65),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* k = nullptr;
    const bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
      EVP_PKEY_free(k);
      fail(Category::integrity, "malformed public key (a P-256 point not on the curve)");
    }
    return Pkey(k);
  }
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr || p != der.data() + der.size()) {
    EVP_PKEY_free(k);
    fail(Category::integrity, "malformed public key (DER SubjectPublicKeyInfo)");
  }
  return Pkey(k);
}

Pkey load_public_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (k == nullptr) fail(Category::usage, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  return Pkey(k);
}

bool is_p256(const EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
    return false;
  return std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256";
}

Bytes spki_der(const EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  const int n = i2d_PUBKEY(const_cast<EVP_PKEY*>(key), &buf);
  if (n <= 0) fail(Category::general, "cannot encode a public key");
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

std::string spki_pem(ByteView der) {
  Pkey k = load_spki(der);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

namespace {

// The digest looked up once: EVP_sha256() makes OpenSSL 3 fetch the implementation on every
// EVP_Digest, which took longer than hashing a fingerprint's 91 bytes (measured: 340 ns per
// call against 155 ns with the fetched one; libsodium's portable SHA-256 took 380 ns).
Bytes digest(const EVP_MD* md, const char* name, std::size_t size, ByteView data) {
  Bytes out(size);
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out.data(), nullptr, md, nullptr) != 1)
    fail(Category::general, std::string("OpenSSL cannot compute ") + name);
  return out;
}

}  // namespace

Bytes sha256(ByteView data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return digest(md, "SHA-256", 32, data);
}

Bytes sha384(ByteView data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return digest(md, "SHA-384", 48, data);
}

std::string fingerprint(ByteView spki_der) { return to_hex(sha256(spki_der)); }

Bytes ecdsa_raw_to_der(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0) fail(Category::integrity, "malformed ECDSA signature");
  const int half = static_cast<int>(raw.size() / 2);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), half, nullptr),
                 BN_bin2bn(raw.data() + half, half, nullptr));
  unsigned char* buf = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &buf);
  ECDSA_SIG_free(sig);
  if (n <= 0) fail(Category::integrity, "malformed ECDSA signature");
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Bytes ecdsa_der_to_raw(ByteView der, std::size_t field_size) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) fail(Category::integrity, "malformed DER ECDSA signature");
  Bytes out(field_size * 2);
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), static_cast<int>(field_size)) > 0 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + field_size,
                               static_cast<int>(field_size)) > 0;
  ECDSA_SIG_free(sig);
  if (!ok) fail(Category::integrity, "ECDSA signature does not fit the curve");
  return out;
}

bool verify_ecdsa_sha256(const EVP_PKEY* key, ByteView message, ByteView raw_signature) {
  if (raw_signature.size() != 64) return false;
  Bytes der;
  try {
    der = ecdsa_raw_to_der(raw_signature);
  } catch (const Error&) {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)) == 1 &&
      EVP_DigestVerify(ctx, der.data(), der.size(), message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool verify_signature(ByteView spki, const std::string& algorithm, ByteView data, ByteView sig) {
  Pkey key = load_spki(spki);
  const EVP_MD* md = algorithm == "ec-p384" ? EVP_sha384()
                     : algorithm == "ed25519" ? nullptr
                                              : EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key.get()) == 1;
  if (ok && algorithm.rfind("rsa-", 0) == 0)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
  ok = ok && EVP_DigestVerify(ctx, sig.data(), sig.size(), data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace hsm::crypto
