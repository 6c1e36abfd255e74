// Transcript keys on the token.
#include "ceremonies/transcript/transcript_key.h"

#include <fmt/format.h>

#include "core/crypto/public_key.h"
#include "core/error.h"
#include "core/pkcs11/objects.h"

namespace hsm {

Bytes TokenSigner::sign(ByteView hash32) {
  return p11::sign(session_, pair_.private_key, p11::SignMechanism::ecdsa_sha256, hash32);
}

void TokenSigner::destroy() noexcept {
  for (p11::KeyHandle h : {pair_.private_key, pair_.public_key}) {
    try {
      p11::destroy_object(session_, h);
    } catch (const Error&) {
    }
  }
}

std::unique_ptr<TokenSigner> find_transcript_key(const p11::Session& session, const Bytes& id) {
  if (id.empty()) return nullptr;
  const auto priv = p11::find_private_key(session, id);
  const auto pub = p11::find_public_key(session, id);
  if (!priv || !pub) return nullptr;
  return std::make_unique<TokenSigner>(session, p11::KeyPair{*pub, *priv},
                                       p11::public_key_spki(session, *pub), id);
}

bool transcript_key_escrowed(const transcript::TranscriptState& state, keystore::Keystore& ks) {
  if (state.current_key_kind != "escrowed") return false;
  for (const auto& k : ks.list_keys())
    if (k.purpose == "transcript" && k.key_id == state.current_key_id) return true;
  return false;
}

void refuse_change_from_escrowed_key(const transcript::TranscriptState& state,
                                     keystore::Keystore& ks, const std::string& token) {
  if (!transcript_key_escrowed(state, ks)) return;
  fail(Category::not_found,
       fmt::format("token '{}' does not hold this workspace's transcript key (escrowed, "
                   "fingerprint {}), and hsmctl never signs on with an unendorsed key once the "
                   "key is escrowed: put it on the token with 'hsmctl --token {} master restore' "
                   "or 'hsmctl --token {} backup restore FILE', or choose a token that holds it "
                   "with --token; the transcript is unchanged",
                   token, crypto::fingerprint(state.current_key).substr(0, 16), token, token));
}

std::unique_ptr<TokenSigner> create_provisional_transcript_key(p11::Session& session) {
  const Bytes id = session.random(16);
  auto templates = p11::provisional_transcript_key(kTranscriptKeyLabel, id);
  const p11::KeyPair pair = p11::generate_pair(session, p11::KeyAlgorithm::ec_p256, templates);
  try {
    return std::make_unique<TokenSigner>(session, pair,
                                         p11::public_key_spki(session, pair.public_key), id);
  } catch (...) {
    TokenSigner(session, pair, Bytes{}, id).destroy();
    throw;
  }
}

}  // namespace hsm
