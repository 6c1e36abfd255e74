// A DEK moved to the group's current key version inside the token.
#include "ceremonies/data/dek_rewrap.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "ceremonies/data/dek_unwrap.h"
#include "ceremonies/data/output_file.h"
#include "ceremonies/groups/group_keys.h"
#include "ceremonies/recorder.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11/agree.h"
#include "core/pkcs11/data_keys.h"
#include "core/pkcs11/templates.h"
#include "core/transcript/canonical_json.h"

namespace hsm {

namespace {

// The new envelope for `from`'s DEK (the session key `dek`) wrapped to `current`: the same
// computation as crypto::new_wrapped_dek on the host, with the one-use pair, Z and the KEK all
// session objects on the token.
crypto::DekEnvelope wrap_to_current(const p11::Session& s, const keystore::GroupRecord& current,
                                    const crypto::DekEnvelope& from, p11::KeyHandle dek) {
  const crypto::Pkey group_key = crypto::load_spki(current.public_key);
  if (!crypto::is_p256(group_key.get()))
    fail(Category::integrity, fmt::format("the public key of group '{}' is not a P-256 key: the "
                                          "keystore was changed", current.name));
  const Bytes group_point = crypto::public_parts(current.public_key).ec_point;
  auto templates = p11::ephemeral_agreement_pair();
  const p11::KeyPair pair = p11::generate_pair(s, p11::KeyAlgorithm::ec_p256, templates);
  const p11::SessionObject eph_priv(s, pair.private_key), eph_pub(s, pair.public_key);
  crypto::DekEnvelope to{current.name, current.key_version, from.dek_id, from.context,
                         p11::public_key_spki(s, eph_pub.handle()), {}};
  p11::Template zt = p11::agreed_secret();
  const p11::SessionObject z = p11::agree_key(s, eph_priv.handle(), group_point, zt);
  p11::Template kt = p11::dek_wrapping_key();
  const p11::SessionObject kek =
      p11::derive_session_key(s, z.handle(), crypto::dek_kdf_data(to, current.public_key), kt);
  to.wrapped_dek = p11::wrap_data_key(s, kek.handle(), dek);
  return to;
}

}  // namespace

DekRewrapped dek_rewrap(Workspace& ws, const DataDecryptOptions& o) {
  o.validate();
  if (o.out.empty()) fail(Category::usage, "--out is required");
  const nlohmann::json params{{"as", o.as}, {"in", o.in.string()}, {"out", o.out.string()}};
  return run_ceremony(ws, "dek.rewrap", params, [&](Recorder& rec) {
    const EnvelopeFile f = read_envelope_file(o.in);
    if (f.data_file)
      fail(Category::usage, fmt::format("'{}' is a data file, whose header is bound into every "
                                        "chunk: move it to the current key with 'hsmctl data "
                                        "decrypt' | 'hsmctl data encrypt'", o.in.string()));
    const crypto::DekEnvelope& e = f.envelope;
    keystore::Keystore& ks = ws.keystore();
    const keystore::GroupRecord named = require_group(ks, e.group);
    require_group_purpose(named, "encrypt");
    if (e.key_version == named.key_version)
      fail(Category::usage, fmt::format("'{}' is already wrapped to key version {}, the current "
                                        "one of group '{}'; nothing to rewrap", o.in.string(),
                                        e.key_version, e.group));
    const p11::Session& s = ws.login();
    const MasterKeys mk = require_master(s);
    // The old version's key, out of the member's own layer of it (checks the group row against
    // the transcript, refuses a retired version, a non-member, wrong factors).
    const UnlockedGroup old =
        unlock_group_key(rec, ws, mk, e.group, o.as, o.factors, o.max_auth_failures,
                         e.key_version);
    // The current key as the transcript recorded it: read again now that unlock_group_key
    // checked the group's row, which holds the current public key and every kept version.
    const keystore::GroupRecord current = require_group(ks, e.group);
    DekRewrapped r{e, {}, 0};
    {
      p11::Template t = p11::rewrapped_data_key();
      const p11::SessionObject dek = unwrap_dek(s, mk, old, e, t);
      r.to = wrap_to_current(s, current, e, dek.handle());
    }
    nlohmann::json ctx = nlohmann::json::object();
    for (const auto& [k, v] : e.context) ctx[k] = v;
    r.seq = rec.record("dek.rewrapped", {{"user", o.as},
                                         {"group", e.group},
                                         {"from_version", e.key_version},
                                         {"to_version", current.key_version},
                                         {"dek_id", to_hex(e.dek_id)},
                                         {"context", ctx}});
    nlohmann::json j = crypto::envelope_json(r.to);
    j["format"] = crypto::kDekFormat;
    write_new_file(o.out, as_bytes(transcript::canonical_json(j) + "\n"), 0644);
    return r;
  });
}

}  // namespace hsm
