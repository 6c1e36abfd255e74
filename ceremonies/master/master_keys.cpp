// MK-wrap / MK-derive import and escrow at birth.
#include "ceremonies/master/master_keys.h"

#include <fmt/format.h>

#include "core/crypto/host_seal.h"
#include "core/crypto/public_key.h"
#include "core/crypto/secret_ops.h"
#include "core/error.h"
#include "core/test_hooks.h"
#include "ceremonies/transcript/transcript_key.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/import.h"
#include "core/pkcs11/objects.h"
#include "core/pkcs11/probe.h"

namespace hsm {

Secret derive_wrap_key(const Secret& m) { return crypto::hmac_sha256(m, "hsmctl v1 wrap"); }
Secret derive_derive_key(const Secret& m) { return crypto::hmac_sha256(m, "hsmctl v1 derive"); }
Secret derive_quorum_key(const Secret& m) { return crypto::hmac_sha256(m, "hsmctl v1 quorum"); }
Secret derive_backup_key(const Secret& m) { return crypto::hmac_sha256(m, "hsmctl v1 backup"); }

std::string master_kcv(const Secret& master) {
  return to_hex(crypto::aes_check_value(derive_wrap_key(master)));
}

std::optional<MasterKeys> find_master_keys(const p11::Session& s) {
  const auto wrap = p11::find_secret_key(s, kMasterWrapLabel);
  const auto derive = p11::find_secret_key(s, kMasterDeriveLabel);
  if (!wrap || !derive) return std::nullopt;
  MasterKeys k{*wrap, *derive, "", p11::derivation_of(s, *derive)};
  if (auto kcv = p11::check_value(s, *wrap)) k.kcv = to_hex(*kcv);
  return k;
}

MasterKeys import_master_keys(const p11::Session& s, const Secret& master,
                              p11::KekDerivation derivation) {
  MasterKeys k;
  k.derivation = derivation;
  const std::string expected = master_kcv(master);
  try {
    {
      const Secret wrap = derive_wrap_key(master);
      auto t = p11::master_wrap_key(kMasterWrapLabel, s.random(16), wrap);
      k.wrap = p11::import_secret_key(s, t);
    }
    {
      const Secret derive = derive_derive_key(master);
      auto t = p11::master_derive_key(kMasterDeriveLabel, s.random(16), derive, derivation);
      k.derive = p11::import_secret_key(s, t);
    }
    const auto kcv = p11::check_value(s, k.wrap);
    if (!kcv || kcv->empty()) {
      // No check value (SoftHSM computes none for a key it unwrapped): MK-wrap must unwrap a
      // blob the host wrapped under the value it derived, which only that value does.
      const Secret wrap = derive_wrap_key(master);
      const Bytes blob = crypto::aes_kwp_wrap(wrap, s.random_secret(32));
      p11::Template t = p11::wrap_proof_key();
      try {
        p11::SessionObject proof(s, p11::unwrap_key(s, k.wrap, blob, t));
      } catch (const Error& e) {
        fail(Category::token, fmt::format("the token reports no check value for MK-wrap, and "
                                          "MK-wrap does not unwrap what the master secret's "
                                          "MK-wrap wrapped ({})", e.what()));
      }
    }
    k.kcv = kcv && !kcv->empty() ? to_hex(*kcv) : expected;
    if (k.kcv != expected)
      fail(Category::token, fmt::format("the token reports check value {} for MK-wrap, but the "
                                        "master secret gives {}", k.kcv, expected));
  } catch (...) {
    for (p11::KeyHandle h : {k.wrap, k.derive})
      if (h != 0) try {
          p11::destroy_object(s, h);
        } catch (const Error&) {
        }
    throw;
  }
  return k;
}

p11::KekDerivation recorded_derivation(const std::string& name) {
  if (name.empty()) return p11::KekDerivation::aes_ecb;
  if (auto d = p11::kek_derivation_named(name)) return *d;
  fail(Category::integrity, fmt::format("the workspace records KEK derivation '{}', which hsmctl "
                                        "never writes (aes-ecb or hmac-sha256): the keystore "
                                        "was changed", name));
}

void require_derivation(const p11::Session& s, p11::KekDerivation d, const std::string& token,
                        const std::string& what, const std::string& state) {
  const auto refused = p11::kek_derivation_refused(s, d);
  if (!refused) return;
  fail(Category::token,
       fmt::format("{}: token '{}' cannot derive keys by {}, the KEK derivation this master key "
                   "was made with ({}); {}; use a token that can ('hsmctl token check' shows "
                   "kek-derive)", what, token, p11::kek_derivation_name(d),
                   p11::describe_missing({*refused}), state));
}

p11::KekDerivation choose_derivation(const p11::Session& s,
                                     std::optional<p11::KekDerivation> wanted,
                                     const std::string& token) {
  if (wanted) {
    if (const auto refused = p11::kek_derivation_refused(s, *wanted))
      fail(Category::token,
           fmt::format("master init: token '{}' cannot derive keys by {} (--kek-derivation): "
                       "{}; nothing was changed on it; leave the option out to let hsmctl "
                       "choose", token, p11::kek_derivation_name(*wanted),
                       p11::describe_missing({*refused})));
    return *wanted;
  }
  const auto refused = p11::kek_derivation_refused(s, p11::KekDerivation::aes_ecb);
  if (!refused) return p11::KekDerivation::aes_ecb;
  // Only a token that does not do AES-ECB-ENCRYPT-DATA gets the fallback; a device error while
  // trying it fails master init as it is (a workspace must not change method by accident).
  if (!p11::means_unsupported(refused->rv))
    fail(Category::token, fmt::format("master init: trying the KEK derivation on token '{}' "
                                      "failed ({}); nothing was changed on it", token,
                                      p11::describe_missing({*refused})));
  return p11::KekDerivation::hmac_sha256;
}

EscrowedKey generate_escrowed(const p11::Session& s, p11::KeyAlgorithm algorithm,
                              p11::KeyHandle wrapping) {
  auto templates = p11::escrow_session_pair(algorithm);
  const p11::KeyPair pair = p11::generate_pair(s, algorithm, templates);
  EscrowedKey out{algorithm, {}, {}};
  try {
    out.spki = p11::public_key_spki(s, pair.public_key, algorithm);
    out.blob = p11::wrap_key(s, wrapping, pair.private_key);
  } catch (...) {
    p11::destroy_object(s, pair.private_key);
    p11::destroy_object(s, pair.public_key);
    throw;
  }
  p11::destroy_object(s, pair.private_key);
  p11::destroy_object(s, pair.public_key);
  return out;
}

void fail_not_wrappable(const p11::Module& module, const std::string& token,
                        const std::string& key_kind, const Error& refused,
                        const std::string& consequence) {
  fail(Category::token,
       fmt::format("the PKCS#11 module of token '{}', {} ('{}'), refused C_WrapKey for {} ({}), "
                   "so {}", token, module.description(), module.path(), key_kind,
                   refused.cause(), consequence),
       refused.cause());
}

p11::KeyPair install_escrowed(const p11::Session& s, const EscrowedKey& key,
                              p11::KeyHandle wrapping, const std::string& label, ByteView id,
                              const p11::Mechanisms& mechanisms) {
  auto priv_t = p11::escrowed_token_private_key(key.algorithm, label, id, mechanisms);
  p11::KeyPair pair;
  pair.private_key = p11::unwrap_key(s, wrapping, key.blob, priv_t);
  test_hook("escrow.after-unwrap");  // a kill here leaves a private key without its public half
  try {
    const crypto::PublicParts parts = crypto::public_parts(key.spki);
    auto pub_t = p11::token_public_key(key.algorithm, label, id, parts.ec_point, parts.modulus,
                                       parts.exponent);
    pair.public_key = p11::create_object(s, pub_t);
  } catch (...) {
    p11::destroy_object(s, pair.private_key);
    throw;
  }
  return pair;
}

EscrowedTranscriptKey create_escrowed_transcript_key(const p11::Session& s, p11::KeyHandle wrap) {
  EscrowedTranscriptKey out{generate_escrowed(s, p11::KeyAlgorithm::ec_p256, wrap), s.random(16), {}};
  out.pair = install_escrowed(s, out.key, wrap, kTranscriptKeyLabel, out.id,
                              {p11::SignMechanism::ecdsa_sha256});
  return out;
}

keystore::KeyRecord transcript_key_record(const EscrowedTranscriptKey& key, const std::string& created) {
  keystore::KeyRecord r;
  r.label = fmt::format("transcript-{}", crypto::fingerprint(key.key.spki).substr(0, 16));
  r.key_id = to_hex(key.id);
  r.algorithm = "ec-p256";
  r.purpose = "transcript";
  r.escrow = "mk-wrap";
  r.wrapped_key = key.key.blob;
  r.public_key = key.key.spki;
  r.created = created;
  return r;
}

}  // namespace hsm
