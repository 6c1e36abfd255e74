// The transcript key on the token as a transcript::Signer: found by its CKA_ID (recorded as
// data.key_id in the entry that introduced it), or created as a provisional key that is born
// non-extractable on the token (templates.h: provisional_transcript_key).
#pragma once

#include <memory>
#include <string>

#include "core/keystore/keystore.h"
#include "core/pkcs11/keys.h"
#include "core/transcript/appender.h"

namespace hsm {

class TokenSigner : public transcript::Signer {
 public:
  TokenSigner(const p11::Session& session, p11::KeyPair pair, Bytes spki, Bytes id)
      : session_(session), pair_(pair), spki_(std::move(spki)), id_(std::move(id)) {}
  Bytes sign(ByteView hash32) override;
  const Bytes& public_key() const override { return spki_; }
  const Bytes& key_id() const { return id_; }
  // Removes both halves from the token (a key whose introduction failed must not linger).
  void destroy() noexcept;

 private:
  const p11::Session& session_;
  p11::KeyPair pair_;
  Bytes spki_;
  Bytes id_;
};

inline constexpr const char* kTranscriptKeyLabel = "hsmctl-transcript";

// The key with this id on the token, or nullptr when the token does not hold it.
std::unique_ptr<TokenSigner> find_transcript_key(const p11::Session& session, const Bytes& id);
std::unique_ptr<TokenSigner> create_provisional_transcript_key(p11::Session& session);

// True when the transcript's current key is escrowed and the keystore holds its escrow record,
// so master restore and backup restore can put it on any token. An escrowed key the keystore
// never recorded (a master init killed before its commit) is as lost as a provisional key.
bool transcript_key_escrowed(const transcript::TranscriptState& state, keystore::Keystore& ks);

// Called when token `token` does not hold the transcript's current key, before anything is
// recorded (hsmctl-transcript(5), Keys). A provisional (or lost) current key can never reach
// this token, so this returns and the caller signs on with an unendorsed key change. An
// escrowed key can be put on any token of the workspace, so an unendorsed change is never made
// for it: throws Error(not_found) naming the ceremonies that put the key on `token`.
void refuse_change_from_escrowed_key(const transcript::TranscriptState& state,
                                     keystore::Keystore& ks, const std::string& token);

}  // namespace hsm
