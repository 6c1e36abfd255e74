// Trying each feature hsmctl needs on session objects (see probe.h). The templates are the ones
// templates.cpp gives the real keys, with CKA_TOKEN=false: what passes here passes there.
#include "core/pkcs11/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/pkcs11/agree.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/import.h"
#include "core/pkcs11/keys.h"
#include "core/pkcs11/rv.h"
#include "core/pkcs11/templates.h"

namespace hsm::p11 {

namespace {

// A refused step: thrown out of a feature's trial, caught by run().
struct Refusal {
  std::string call, mechanism, attribute, rv, detail;
};

// Runs `op` as the step `call` with `mechanism`: a token error becomes a Refusal.
template <typename F>
auto step(const std::string& call, CK_MECHANISM_TYPE mechanism, F&& op) -> decltype(op()) {
  try {
    return op();
  } catch (const TokenError& e) {
    throw Refusal{call, mechanism_name(mechanism), "", rv_name(e.rv()), e.what()};
  } catch (const Error& e) {
    throw Refusal{call, mechanism_name(mechanism), "", "", e.what()};
  }
}

// Attributes a template cannot do without: dropping them proves nothing.
bool essential(CK_ATTRIBUTE_TYPE t) {
  return t == CKA_CLASS || t == CKA_KEY_TYPE || t == CKA_VALUE || t == CKA_EC_PARAMS ||
         t == CKA_MODULUS_BITS || t == CKA_PUBLIC_EXPONENT || t == CKA_VALUE_LEN || t == CKA_TOKEN;
}

std::string attribute_text(const CK_ATTRIBUTE& a) {
  if (a.ulValueLen == 1 && a.pValue != nullptr)
    return attribute_name(a.type) + (*static_cast<const CK_BBOOL*>(a.pValue) ? "=true" : "=false");
  return attribute_name(a.type);
}

// The one attribute of `t` without which `works` succeeds, as NAME=value; "" if none.
std::string culprit(const Template& t, const std::function<bool(const Template&)>& works) {
  for (const CK_ATTRIBUTE& a : t.attributes()) {
    if (essential(a.type)) continue;
    if (works(t.without(a.type))) return attribute_text(a);
  }
  return {};
}

CK_MECHANISM_TYPE pair_mechanism(KeyAlgorithm a) {
  if (a == KeyAlgorithm::rsa3072 || a == KeyAlgorithm::rsa4096) return CKM_RSA_PKCS_KEY_PAIR_GEN;
  if (a == KeyAlgorithm::ed25519) return CKM_EC_EDWARDS_KEY_PAIR_GEN;
  return CKM_EC_KEY_PAIR_GEN;
}

struct OwnedPair {
  SessionObject public_key, private_key;
};

// C_GenerateKeyPair with `t`; on a refusal, the attribute of either template that caused it.
OwnedPair generate(const Session& s, KeyAlgorithm algorithm, PairTemplates t) {
  try {
    PairTemplates copy = t;
    const KeyPair kp = generate_pair(s, algorithm, copy);
    return {SessionObject(s, kp.public_key), SessionObject(s, kp.private_key)};
  } catch (const TokenError& e) {
    Refusal r{"C_GenerateKeyPair", mechanism_name(pair_mechanism(algorithm)), "",
              rv_name(e.rv()), e.what()};
    const auto works = [&](const PairTemplates& p) {
      try {
        PairTemplates copy = p;
        const KeyPair kp = generate_pair(s, algorithm, copy);
        SessionObject a(s, kp.public_key), b(s, kp.private_key);
        return true;
      } catch (const Error&) {
        return false;
      }
    };
    r.attribute = culprit(t.private_key, [&](const Template& u) {
      return works(PairTemplates{t.public_key, u});
    });
    if (r.attribute.empty())
      r.attribute = culprit(t.public_key, [&](const Template& u) {
        return works(PairTemplates{u, t.private_key});
      });
    throw r;
  }
}

// An object made from `t` by `make` (C_CreateObject, C_UnwrapKey, C_DeriveKey); on a refusal,
// the attribute that caused it.
SessionObject make_object(const Session& s, const std::string& call, const std::string& mechanism,
                          const Template& t,
                          const std::function<SessionObject(Template&)>& make) {
  try {
    Template copy = t;
    return make(copy);
  } catch (const Error& e) {
    const auto* token_error = dynamic_cast<const TokenError*>(&e);
    Refusal r{call, mechanism, "", token_error ? rv_name(token_error->rv()) : "",
              e.what()};
    r.attribute = culprit(t, [&](const Template& u) {
      try {
        Template copy = u;
        SessionObject o = make(copy);
        return true;
      } catch (const Error&) {
        return false;
      }
    });
    (void)s;
    throw r;
  }
}

Template as_session(Template t) {
  t.replace(CKA_TOKEN, false);
  return t;
}

// The objects later features build on.
struct Made {
  std::optional<SessionObject> wrap, derive, kek, escrowed_copy;
  std::string fallback;  // set by a trial that succeeded only through a fallback: its name
};

void transcript_key(const Session& s, Made&) {
  const Bytes id{0xc4, 0xec};
  PairTemplates t = provisional_transcript_key("hsmctl-token-check", id);
  t.public_key = as_session(t.public_key);
  t.private_key = as_session(t.private_key);
  const OwnedPair kp = generate(s, KeyAlgorithm::ec_p256, t);
  step("C_Sign", CKM_ECDSA, [&] {
    return sign(s, kp.private_key.handle(), SignMechanism::ecdsa_sha256, to_bytes("check"));
  });
}

// MK-wrap and MK-derive as session objects: C_CreateObject, or the unwrap fallback (import.h).
void master_keys(const Session& s, Made& m) {
  const Secret value = s.random_secret(32);
  const auto create = [&](Template& t) {
    const Imported k = import_secret_key_by(s, t);
    if (k.route == ImportRoute::unwrap) m.fallback = "unwrap-import";
    return SessionObject(s, k.handle);
  };
  m.wrap.emplace(make_object(s, "C_CreateObject", "",
                             as_session(master_wrap_key("", {}, value)), create));
  m.derive.emplace(make_object(s, "C_CreateObject", "",
                               as_session(master_derive_key("", {}, value)), create));
}

void escrow(const Session& s, Made& m) {
  const OwnedPair kp = generate(s, KeyAlgorithm::ec_p256, escrow_session_pair(KeyAlgorithm::ec_p256));
  const Bytes blob = step("C_WrapKey", CKM_AES_KEY_WRAP_PAD, [&] {
    return wrap_key(s, m.wrap->handle(), kp.private_key.handle());
  });
  m.escrowed_copy.emplace(make_object(
      s, "C_UnwrapKey", mechanism_name(CKM_AES_KEY_WRAP_PAD),
      escrowed_session_private_key(KeyAlgorithm::ec_p256, {SignMechanism::ecdsa_sha256}),
      [&](Template& t) { return SessionObject(s, unwrap_key(s, m.wrap->handle(), blob, t)); }));
  step("C_Sign", CKM_ECDSA, [&] {
    return sign(s, m.escrowed_copy->handle(), SignMechanism::ecdsa_sha256, to_bytes("check"));
  });
}

// What the contract forbids must be refused, with a code that says so: a non-extractable key
// wrapped, a sensitive key's value read, a frozen attribute changed. Any other failure (a device
// error) is the token failing the check, not passing it.
void custody(const Session& s, Made& m) {
  const auto refused_as = [](CK_RV rv, std::initializer_list<CK_RV> meaning) {
    return std::find(meaning.begin(), meaning.end(), rv) != meaning.end();
  };
  try {
    (void)wrap_key(s, m.wrap->handle(), m.escrowed_copy->handle());
    throw Refusal{"C_WrapKey", mechanism_name(CKM_AES_KEY_WRAP_PAD), "CKA_EXTRACTABLE=false",
                  "CKR_OK", "the token wrapped a key marked CKA_EXTRACTABLE=false: a PIN holder "
                  "could export every key"};
  } catch (const TokenError& e) {
    if (!refused_as(e.rv(), {CKR_KEY_UNEXTRACTABLE, CKR_KEY_NOT_WRAPPABLE, CKR_ACTION_PROHIBITED,
                             CKR_KEY_FUNCTION_NOT_PERMITTED}))
      throw Refusal{"C_WrapKey", mechanism_name(CKM_AES_KEY_WRAP_PAD), "", rv_name(e.rv()),
                    e.what()};
  }
  Bytes value(64);
  CK_ATTRIBUTE read{CKA_VALUE, value.data(), value.size()};
  const CK_RV read_rv = s.fn()->C_GetAttributeValue(s.handle(), m.wrap->handle(), &read, 1);
  if (read_rv == CKR_OK && read.ulValueLen != CK_UNAVAILABLE_INFORMATION)
    throw Refusal{"C_GetAttributeValue", "", "CKA_SENSITIVE=true", "CKR_OK",
                  "the token gave out the value of a key marked CKA_SENSITIVE=true"};
  if (read_rv != CKR_OK && !refused_as(read_rv, {CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID}))
    throw Refusal{"C_GetAttributeValue", "", "", rv_name(read_rv),
                  "the token failed when asked for a sensitive key's value"};
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE loosen{CKA_EXTRACTABLE, &yes, sizeof yes};
  const CK_RV set_rv = s.fn()->C_SetAttributeValue(s.handle(), m.escrowed_copy->handle(), &loosen, 1);
  if (set_rv == CKR_OK)
    throw Refusal{"C_SetAttributeValue", "", "CKA_EXTRACTABLE=true", "CKR_OK",
                  "the token made a non-extractable, non-modifiable key extractable"};
  if (!refused_as(set_rv, {CKR_ATTRIBUTE_READ_ONLY, CKR_ACTION_PROHIBITED,
                           CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID}))
    throw Refusal{"C_SetAttributeValue", "", "", rv_name(set_rv),
                  "the token failed when asked to loosen a frozen attribute"};
}

// A user KEK derived from a fresh MK-derive made for `d`, on session objects.
SessionObject kek_by(const Session& s, KekDerivation d) {
  const Bytes data(32, 0x5a);
  const Secret value = s.random_secret(32);
  const SessionObject base = make_object(
      s, "C_CreateObject", "", as_session(master_derive_key("", {}, value, d)),
      [&](Template& t) { return SessionObject(s, import_secret_key(s, t)); });
  const bool ecb = d == KekDerivation::aes_ecb;
  return make_object(s, ecb ? "C_DeriveKey" : "C_Sign",
                     mechanism_name(ecb ? CKM_AES_ECB_ENCRYPT_DATA : CKM_SHA256_HMAC), user_kek(),
                     [&](Template& t) { return derive_session_key(s, base.handle(), data, t); });
}

// AES-ECB-ENCRYPT-DATA, or else the HMAC-SHA256 fallback; the ECB refusal when neither works.
void kek(const Session& s, Made& m) {
  try {
    m.kek.emplace(kek_by(s, KekDerivation::aes_ecb));
  } catch (const Refusal& ecb) {
    if (!means_unsupported(ecb.rv)) throw;  // a failure, not a missing mechanism
    try {
      m.kek.emplace(kek_by(s, KekDerivation::hmac_sha256));
      m.fallback = kek_derivation_name(KekDerivation::hmac_sha256);
    } catch (const Refusal& hmac) {
      Refusal r = ecb;
      r.detail += "; the fallback, HMAC-SHA256 by C_Sign, failed too: " + hmac.call + " " +
                  hmac.mechanism + (hmac.rv.empty() ? "" : ": " + hmac.rv);
      throw r;
    }
  }
}

void gcm(const Session& s, Made& m) {
  const Bytes nonce(kGcmNonceSize, 0x01), aad = to_bytes("hsmctl token check");
  const Bytes plain = to_bytes("a sealed blob");
  // On a token without AES-GCM the KEK came back held on the host (the host-GCM fallback).
  if (m.kek->host_key() != nullptr) m.fallback = "host-aes-gcm";
  const Bytes sealed = step("C_Encrypt", CKM_AES_GCM, [&] {
    return gcm_seal(s, *m.kek, nonce, aad, plain);
  });
  const std::optional<Secret> opened = step("C_Decrypt", CKM_AES_GCM, [&] {
    return gcm_open(s, *m.kek, nonce, aad, sealed);
  });
  if (!opened || !std::equal(opened->bytes().begin(), opened->bytes().end(), plain.begin(),
                             plain.end()))
    throw Refusal{"C_Decrypt", mechanism_name(CKM_AES_GCM), "", "",
                  "AES-GCM did not give back what it sealed"};
}

void ecdh_by(const Session& s, KekDerivation d) {
  const OwnedPair member = generate(s, KeyAlgorithm::ec_p256, agreement_session_pair());
  const OwnedPair once = generate(s, KeyAlgorithm::ec_p256, ephemeral_agreement_pair());
  const Bytes spki = public_key_spki(s, member.public_key.handle(), KeyAlgorithm::ec_p256);
  const Bytes point(spki.end() - 65, spki.end());
  SessionObject agreed = make_object(s, "C_DeriveKey", mechanism_name(CKM_ECDH1_DERIVE), agreed_secret(d),
                                     [&](Template& t) { return agree_key(s, once.private_key.handle(), point, t); });
  const Bytes data(32, 0x33);
  const bool ecb = d == KekDerivation::aes_ecb;
  make_object(s, ecb ? "C_DeriveKey" : "C_Sign",
              mechanism_name(ecb ? CKM_AES_ECB_ENCRYPT_DATA : CKM_SHA256_HMAC), group_layer_key(),
              [&](Template& t) { return derive_session_key(s, agreed.handle(), data, t); });
}

// ECDH into an agreed secret, then the layer key by AES-ECB-ENCRYPT-DATA or, failing that, by
// HMAC-SHA256 (the same fallback as the KEK's).
void ecdh(const Session& s, Made& m) {
  try {
    ecdh_by(s, KekDerivation::aes_ecb);
  } catch (const Refusal& ecb) {
    if (!means_unsupported(ecb.rv)) throw;
    try {
      ecdh_by(s, KekDerivation::hmac_sha256);
      m.fallback = kek_derivation_name(KekDerivation::hmac_sha256);
    } catch (const Refusal&) {
      throw ecb;
    }
  }
}

void signing(const Session& s, KeyAlgorithm a, std::vector<SignMechanism> mechanisms) {
  const OwnedPair kp = generate(s, a, escrow_session_pair(a));
  for (SignMechanism m : mechanisms)
    step("C_Sign", mechanism_type(m), [&] {
      return sign(s, kp.private_key.handle(), m, to_bytes("check"));
    });
}

struct Feature {
  const char* id;
  const char* feature;
  const char* needed_for;
  bool required;
  std::vector<CK_MECHANISM_TYPE> mechanisms;
  std::vector<const char*> needs;  // features whose objects this one uses
  std::function<void(const Session&, Made&)> trial;
};

const std::vector<Feature>& features() {
  static const std::vector<Feature> list = {
      {"transcript-key", "EC P-256 key pair born on the token, sign-only", "the transcript key",
       true, {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA}, {}, transcript_key},
      {"master-keys", "AES-256 keys imported with frozen attributes (C_CreateObject; fallback: "
       "C_UnwrapKey under a token-made RSA-OAEP transport key)",
       "MK-wrap and MK-derive", true, {}, {}, master_keys},
      {"escrow-wrap", "AES key wrap with padding of a private key, unwrapped non-extractable",
       "escrow of every key", true, {CKM_AES_KEY_WRAP_PAD, CKM_EC_KEY_PAIR_GEN},
       {"master-keys"}, escrow},
      {"custody", "non-extractable and sensitive keys stay so", "the custody contract", true, {},
       {"escrow-wrap"}, custody},
      {"kek-derive", "AES-ECB-ENCRYPT-DATA key derivation (fallback: HMAC-SHA256 by C_Sign)",
       "user KEKs", true,
       {CKM_AES_ECB_ENCRYPT_DATA}, {"master-keys"}, kek},
      {"aes-gcm", "AES-256-GCM by the token (fallback: by the host, the key read for one operation)",
       "sealed user blobs and OTP seeds", true,
       {CKM_AES_GCM}, {"kek-derive"}, gcm},
      {"ecdh", "ECDH P-256 into a derived AES key", "group keys", false,
       {CKM_ECDH1_DERIVE, CKM_AES_ECB_ENCRYPT_DATA}, {}, ecdh},
      {"ec-p384", "EC P-384 keys, ECDSA", "p384 keys", false, {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA}, {},
       [](const Session& s, Made&) { signing(s, KeyAlgorithm::ec_p384, {SignMechanism::ecdsa_sha384}); }},
      {"rsa", "RSA-3072 keys, PSS and PKCS#1 v1.5 with SHA-256", "rsa3072 and rsa4096 keys", false,
       {CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS}, {},
       [](const Session& s, Made&) {
         signing(s, KeyAlgorithm::rsa3072,
                 {SignMechanism::rsa_pss_sha256, SignMechanism::rsa_pkcs1_sha256});
       }},
      {"ed25519", "Ed25519 keys, EdDSA", "ed25519 keys", false,
       {CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA}, {},
       [](const Session& s, Made&) { signing(s, KeyAlgorithm::ed25519, {SignMechanism::eddsa}); }},
  };
  return list;
}

Capability capability_of(const Feature& f) {
  Capability c;
  c.id = f.id;
  c.feature = f.feature;
  c.needed_for = f.needed_for;
  c.required = f.required;
  return c;
}

}  // namespace

std::vector<Capability> probe_operations(const Session& s, bool required_only) {
  std::vector<Capability> out;
  Made made;
  std::map<std::string, bool> passed;
  for (const Feature& f : features()) {
    if (required_only && !f.required) continue;
    Capability c = capability_of(f);
    const auto missing = std::find_if(f.needs.begin(), f.needs.end(),
                                      [&](const char* n) { return !passed[n]; });
    if (missing != f.needs.end()) {
      c.status = "untried";
      c.detail = fmt::format("needs {}, which the token does not support", *missing);
    } else {
      try {
        made.fallback.clear();
        f.trial(s, made);
        c.status = made.fallback.empty() ? "supported" : "fallback";
        c.fallback = made.fallback;
      } catch (const Refusal& r) {
        c.status = "not-supported";
        c.call = r.call;
        c.mechanism = r.mechanism;
        c.attribute = r.attribute;
        c.rv = r.rv;
        c.detail = r.detail;
      }
    }
    passed[f.id] = c.status == "supported" || c.status == "fallback";
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<Capability> kek_derivation_refused(const Session& s, KekDerivation d) {
  try {
    kek_by(s, d);
    return std::nullopt;
  } catch (const Refusal& r) {
    Capability c;
    c.id = "kek-derive";
    c.feature = fmt::format("key derivation by {}", kek_derivation_name(d));
    c.needed_for = "user KEKs";
    c.required = true;
    c.status = "not-supported";
    c.call = r.call;
    c.mechanism = r.mechanism;
    c.attribute = r.attribute;
    c.rv = r.rv;
    c.detail = r.detail;
    return c;
  }
}

std::vector<Capability> probe_mechanism_list(const Module& module, unsigned long slot_id) {
  CK_ULONG n = 0;
  check(module.fn()->C_GetMechanismList(slot_id, nullptr, &n), "reading the mechanism list");
  std::vector<CK_MECHANISM_TYPE> listed(n);
  check(module.fn()->C_GetMechanismList(slot_id, listed.data(), &n), "reading the mechanism list");
  listed.resize(n);
  const auto has = [&](CK_MECHANISM_TYPE m) {
    return std::find(listed.begin(), listed.end(), m) != listed.end();
  };
  // Where a feature has a fallback, the mechanisms it takes instead of the native ones.
  const auto fallback_for = [&](const Feature& f) -> std::optional<std::string> {
    const std::string id = f.id;
    if ((id == "kek-derive" || id == "ecdh") && !has(CKM_AES_ECB_ENCRYPT_DATA) &&
        has(CKM_SHA256_HMAC) && (id != "ecdh" || has(CKM_ECDH1_DERIVE)))
      return std::string(kek_derivation_name(KekDerivation::hmac_sha256));
    if (id == "aes-gcm" && !has(CKM_AES_GCM)) return std::string("host-aes-gcm");
    return std::nullopt;
  };
  std::vector<Capability> out;
  for (const Feature& f : features()) {
    Capability c = capability_of(f);
    c.status = "listed";
    for (CK_MECHANISM_TYPE m : f.mechanisms)
      if (!has(m)) {
        c.status = "not-listed";
        c.call = "C_GetMechanismList";
        c.mechanism = mechanism_name(m);
        c.detail = fmt::format("the token does not list {}", c.mechanism);
        break;
      }
    if (c.status == "not-listed")
      if (auto fallback = fallback_for(f)) {
        c = capability_of(f);
        c.status = "fallback";
        c.fallback = *fallback;
      }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace hsm::p11
