// The transcript events that record a signature hsmctl made, and what each says about who
// signed and what: one reading shared by receipts and by 'transcript monitor'.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hsm {

struct SignatureEvent {
  std::string event;
  std::string key;    // sign.file | cert | csr | crl: the signing key's label
  std::string user;   // user.signed: the user; group.signed: the member who signed
  std::string group;  // group.signed
  std::string signer;  // "key 'K'", "user 'U'", "group 'G' as 'U'"
  std::string input_sha256;   // the signed file (sign.file, user.signed, group.signed)
  std::string output_sha256;  // the signature, certificate, CSR or CRL made
  std::string input;          // the signed file's name, as recorded
};

// The signature an entry (a parsed transcript line) records; nullopt for any other event.
std::optional<SignatureEvent> signature_event(const nlohmann::json& entry);

}  // namespace hsm
