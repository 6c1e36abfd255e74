// key generate, and opening a key (token key or quorum session copy) for signing.
#include "ceremonies/keys/signing_keys.h"

#include "ceremonies/keystore_state.h"

#include <fmt/format.h>

#include "ceremonies/master/master_keys.h"
#include "ceremonies/master/share_groups.h"
#include "core/crypto/algorithm_names.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/import.h"
#include "core/pkcs11/crypt.h"
#include "core/pkcs11/objects.h"
#include "core/transcript/entry.h"

namespace hsm {

namespace {

const std::vector<SigningAlgorithm>& algorithms() {
  static const std::vector<SigningAlgorithm> all = {
      {"ec-p256", p11::KeyAlgorithm::ec_p256, p11::SignMechanism::ecdsa_sha256},
      {"ec-p384", p11::KeyAlgorithm::ec_p384, p11::SignMechanism::ecdsa_sha384},
      {"rsa-3072", p11::KeyAlgorithm::rsa3072, p11::SignMechanism::rsa_pss_sha256},
      {"rsa-4096", p11::KeyAlgorithm::rsa4096, p11::SignMechanism::rsa_pss_sha256},
      {"ed25519", p11::KeyAlgorithm::ed25519, p11::SignMechanism::eddsa},
  };
  return all;
}

bool valid_label(const std::string& l) {
  if (l.empty() || l.size() > 64) return false;
  for (char c : l)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

const MasterKeys& need_master(const std::optional<MasterKeys>& mk, Workspace& ws) {
  if (!mk)
    fail(Category::not_found, fmt::format("token '{}' holds no master key; run 'hsmctl master "
                                          "init' (or 'master restore') first", ws.token().label));
  return *mk;
}

// QK as a session object, from a quorum of shares; the caller destroys it.
p11::KeyHandle open_quorum_key(Workspace& ws, Recorder& rec, ShareIntake intake) {
  keystore::Keystore& ks = ws.keystore();
  const auto master = ks.master();
  if (!master) fail(Category::not_found, "this workspace has no master key record");
  intake.on_share = [&rec, tell = intake.on_share](bool ok, const std::string& what) {
    rec.record(ok ? "share.accepted" : "share.refused", {{ok ? "custodian" : "reason", what}});
    if (tell) tell(ok, what);
  };
  const Secret s = recover_master_secret(master->shares, intake);
  if (master_kcv(s) != master->kcv)
    fail(Category::integrity, "the shares do not give this workspace's master key");
  auto t = p11::quorum_session_key(derive_quorum_key(s));
  return p11::import_secret_key(ws.login(), t);  // or by unwrapping, on a token that needs it
}

// A quorum key is unwrapped under QK, which only the master secret gives, and the master secret
// takes exactly its share set's threshold: any other M would be a number nobody enforces.
void require_master_threshold(Workspace& ws, int quorum) {
  if (quorum == 0) return;
  const auto master = ws.keystore().master();
  if (!master || master->shares.member_thresholds.empty()) return;  // need_master says so later
  const auto& set = master->shares;
  const int threshold = fewest_shares(set.member_thresholds, set.group_threshold);
  if (quorum == threshold) return;
  if (set.member_thresholds.size() == 1)
    fail(Category::usage,
         fmt::format("--quorum {} must equal the master share set's threshold ({}): a quorum key "
                     "is unlocked by the master secret, which takes exactly {} shares to "
                     "recombine; use --quorum {}", quorum, threshold, threshold, threshold));
  fail(Category::usage,
       fmt::format("--quorum {} must equal the fewest shares that recombine the master share "
                   "set ({}: {} of its {} groups, each at its own threshold): a quorum key is "
                   "unlocked by the master secret; use --quorum {}", quorum, threshold,
                   set.group_threshold, set.member_thresholds.size(), threshold));
}

}  // namespace

const SigningAlgorithm& signing_algorithm(const std::string& name) {
  const std::string_view stored = canonical_algorithm(name).value_or(name);  // either spelling
  for (const auto& a : algorithms())
    if (a.name == stored) return a;
  fail(Category::usage, fmt::format("unknown key algorithm '{}'; use ec-p256, ec-p384, ed25519, "
                                    "rsa-3072 or rsa-4096", name));
}

std::string token_label(const std::string& label) { return "hsmctl-key-" + label; }

void KeyGenerateOptions::validate() const {
  if (!valid_label(label))
    fail(Category::usage, fmt::format("key label '{}' must be 1-64 letters, digits, '.', '_' or '-'",
                                      label));
  // Whether the token can escrow the algorithm is asked of the token (C_WrapKey), not assumed.
  signing_algorithm(algorithm);
  if (purpose != "ca" && purpose != "code" && purpose != "generic")
    fail(Category::usage, fmt::format("--purpose '{}' is not one of ca, code, generic", purpose));
  if (quorum < 0 || quorum > 16) fail(Category::usage, "--quorum must be from 1 to 16");
  if (quorum > 0 && no_backup)
    fail(Category::usage, "a quorum key exists only as an escrow blob; --no-backup makes no sense");
}

keystore::KeyRecord generate_signing_key(Workspace& ws, const KeyGenerateOptions& o,
                                         ShareIntake intake) {
  o.validate();
  require_master_threshold(ws, o.quorum);
  const SigningAlgorithm& alg = signing_algorithm(o.algorithm);
  keystore::KeyRecord rec_out;
  const nlohmann::json params{{"label", o.label}, {"algorithm", o.algorithm},
                              {"purpose", o.purpose}, {"quorum", o.quorum},
                              {"no_backup", o.no_backup}};
  run_ceremony(ws, "key.generate", params, [&](Recorder& rec) {
    const p11::Session& s = ws.login();
    keystore::Keystore& ks = ws.keystore();
    if (ks.find_key(o.label) || !p11::find_by_label(s, token_label(o.label)).empty())
      fail(Category::not_found, fmt::format("a key labelled '{}' already exists", o.label));
    const MasterKeys mk = need_master(find_master_keys(s), ws);
    const Bytes id = s.random(16);
    keystore::KeyRecord k;
    k.label = o.label;
    k.key_id = to_hex(id);
    k.algorithm = o.algorithm;
    k.purpose = o.purpose;
    k.quorum = o.quorum;
    k.created = transcript::utc_now_rfc3339();
    std::vector<p11::KeyHandle> created;
    const auto undo = [&s](const std::vector<p11::KeyHandle>& handles) {
      for (p11::KeyHandle h : handles) try {
          p11::destroy_object(s, h);
        } catch (const Error&) {
        }
    };
    try {
      if (o.quorum > 0) {
        const p11::KeyHandle qk = open_quorum_key(ws, rec, std::move(intake));
        created.push_back(qk);
        const EscrowedKey e = generate_escrowed(s, alg.algorithm, qk);
        p11::destroy_object(s, qk);
        created.clear();
        k.escrow = "qk";
        k.wrapped_key = e.blob;
        k.public_key = e.spki;
      } else if (o.no_backup) {
        auto t = p11::born_token_key_pair(alg.algorithm, token_label(o.label), id, {alg.mechanism});
        const p11::KeyPair pair = p11::generate_pair(s, alg.algorithm, t);
        created = {pair.private_key, pair.public_key};
        k.escrow = "none";
        k.public_key = p11::public_key_spki(s, pair.public_key);
      } else {
        const EscrowedKey e = generate_escrowed(s, alg.algorithm, mk.wrap);
        const p11::KeyPair pair = install_escrowed(s, e, mk.wrap, token_label(o.label), id,
                                                   {alg.mechanism});
        created = {pair.private_key, pair.public_key};
        k.escrow = "mk-wrap";
        k.wrapped_key = e.blob;
        k.public_key = e.spki;
      }
      ks.insert_key(k);
    } catch (const Error& e) {
      undo(created);
      if (!p11::refused_as_not_wrappable(e)) throw;
      fail_not_wrappable(ws.module(), ws.token().label,
                         fmt::format("the new {} private key", o.algorithm), e,
                         fmt::format("the key cannot be escrowed or backed up; add --no-backup for "
                                     "a key born on the token that can never leave it, or choose "
                                     "another --algo"));
    } catch (...) {
      undo(created);
      throw;
    }
    rec.record("key.generate", {{"label", k.label}, {"key_id", k.key_id},
                                {"algorithm", k.algorithm}, {"purpose", k.purpose},
                                {"quorum", k.quorum}, {"escrow", k.escrow},
                                {"fingerprint", crypto::fingerprint(k.public_key)}});
    rec_out = k;
  });
  return rec_out;
}

OpenSigningKey::OpenSigningKey(Workspace& ws, Recorder& rec, const std::string& label,
                               ShareIntake intake)
    : ws_(ws) {
  auto found = ws.keystore().find_key(label);
  if (!found || found->purpose == "transcript")
    fail(Category::not_found, fmt::format("no signing key labelled '{}'; see 'hsmctl key list'", label));
  require_recorded_row(ws, rec.transcript(), "key/" + label, fmt::format("key '{}'", label));
  record_ = *found;
  algorithm_ = &signing_algorithm(record_.algorithm);
  const p11::Session& s = ws.login();
  if (record_.quorum == 0) {
    const auto h = p11::find_private_key(s, from_hex(record_.key_id));
    if (!h)
      fail(Category::not_found, fmt::format("key '{}' is not on token '{}'; restore it from a "
                                            "backup", label, ws.token().label));
    key_ = *h;
    return;
  }
  const p11::KeyHandle qk = open_quorum_key(ws, rec, std::move(intake));
  session_objects_.push_back(qk);
  auto t = p11::escrowed_session_private_key(algorithm_->algorithm, {algorithm_->mechanism});
  key_ = p11::unwrap_key(s, qk, *record_.wrapped_key, t);
  session_objects_.push_back(key_);
}

OpenSigningKey::~OpenSigningKey() {
  for (p11::KeyHandle h : session_objects_) try {
      p11::destroy_object(ws_.login(), h);
    } catch (...) {
    }
}

Bytes OpenSigningKey::sign(ByteView data) {
  const Bytes sig = p11::sign(ws_.login(), key_, algorithm_->mechanism, data);
  if (algorithm_->mechanism == p11::SignMechanism::ecdsa_sha256 ||
      algorithm_->mechanism == p11::SignMechanism::ecdsa_sha384)
    return crypto::ecdsa_raw_to_der(sig);
  return sig;
}

}  // namespace hsm
