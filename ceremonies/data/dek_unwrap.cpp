// One DEK unwrapped on the token: ECDH with the envelope's one-use key, the KEK derived with
// AES-ECB-ENCRYPT-DATA, the DEK unwrapped with AES key wrap.
#include "ceremonies/data/dek_unwrap.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ceremonies/groups/group_agreement.h"
#include "core/crypto/data_file.h"
#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/agree.h"
#include "core/pkcs11/data_keys.h"
#include "core/pkcs11/templates.h"

namespace hsm {

EnvelopeFile read_envelope_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Category::not_found, fmt::format("input file '{}' not found", path.string()));
  const std::string what = fmt::format("'{}'", path.string());
  Bytes prefix;
  crypto::read_up_to(in, 7, prefix);
  in.clear();
  in.seekg(0);
  if (crypto::is_data_file(prefix)) return {crypto::read_data_header(in, what).envelope, true};
  Bytes text;
  crypto::read_up_to(in, crypto::kMaxDataHeader + 1, text);
  const auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != crypto::kDekFormat)
    fail(Category::integrity, fmt::format("{} is neither an hsmctl DEK file nor an hsmctl data "
                                          "file: it was changed or is another file", what));
  return {crypto::envelope_from_json(j, what), false};
}

p11::SessionObject unwrap_dek(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g,
                              const crypto::DekEnvelope& e, p11::Template& dek_template) {
  if (e.group != g.group.name)
    fail(Category::integrity, fmt::format("the DEK is wrapped to group '{}', not '{}': the file "
                                          "was changed", e.group, g.group.name));
  if (e.key_version != g.group.key_version)
    fail(Category::integrity, fmt::format("the DEK is wrapped to key version {} of group '{}', "
                                          "which holds key version {}: the file was changed",
                                          e.key_version, g.group.name, g.group.key_version));
  const crypto::Pkey eph = crypto::load_spki(e.ephemeral_public_key);
  if (!crypto::is_p256(eph.get()))
    fail(Category::integrity, "the DEK's one-use public key is not a P-256 key: the file was "
                              "changed");
  const Bytes point = crypto::public_parts(e.ephemeral_public_key).ec_point;

  p11::Template pt = p11::agreement_session_private_key();
  const p11::SessionObject priv(s, p11::unwrap_key(s, mk.wrap, g.inner.bytes(), pt));
  p11::Template zt = p11::agreed_secret();
  const p11::SessionObject z = p11::agree_key(s, priv.handle(), point, zt);
  p11::Template kt = p11::dek_unwrapping_key();
  const p11::SessionObject kek =
      p11::derive_session_key(s, z.handle(), crypto::dek_kdf_data(e, g.group.public_key), kt);
  return p11::unwrap_data_key(s, kek.handle(), e.wrapped_dek, dek_template);
}

void check_encryption_key(const p11::Session& s, const MasterKeys& mk, const UnlockedGroup& g) {
  const crypto::NewDek probe =
      crypto::new_wrapped_dek(g.group.name, g.group.key_version, g.group.public_key, {});
  p11::Template t = p11::data_decryption_key();
  try {
    unwrap_dek(s, mk, g, probe.envelope, t);
  } catch (const Error& e) {
    if (e.category() != Category::integrity) throw;
    fail(Category::integrity, fmt::format("the key in the layer of group '{}' does not match the "
                                          "group's public key: the keystore was changed",
                                          g.group.name));
  }
}

}  // namespace hsm
