// What a token can do of what hsmctl needs: each feature is tried on session objects (never a
// token object, so nothing on the token changes), with the same templates and calls hsmctl
// uses; or, on a token not yet initialised (no session can log in), read off its mechanism
// list. A refusal names the call, the mechanism, the attribute the token would not take (found
// by trying the template again without each attribute in turn) and the return code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/pkcs11/module.h"
#include "core/pkcs11/session.h"
#include "core/pkcs11/templates.h"

namespace hsm::p11 {

struct Capability {
  std::string id;          // "transcript-key", "master-keys", ...
  std::string feature;     // what it is, in words
  std::string needed_for;  // what hsmctl does with it
  bool required = false;   // token init and master init refuse a token without it
  // "supported", "fallback" (supported through the fallback named in `fallback`),
  // "not-supported", or, from the mechanism list alone, "listed" / "not-listed".
  std::string status;
  std::string fallback;  // "hmac-sha256", ... when status is "fallback"
  // When not supported: the refused call, its mechanism, the attribute (NAME=value) the token
  // would not take if one was found, the return code, and a sentence.
  std::string call, mechanism, attribute, rv, detail;

  bool ok() const { return status == "supported" || status == "fallback" || status == "listed"; }
};

// Tries every feature (or, `required_only`, those token init and master init need) on session
// objects of a logged-in user session. Destroys what it makes.
std::vector<Capability> probe_operations(const Session& s, bool required_only = false);
// The features whose mechanisms `slot_id`'s mechanism list lacks (no session needed).
std::vector<Capability> probe_mechanism_list(const Module& module, unsigned long slot_id);

// Whether the token derives keys from MK-derive with `d` (tried on session objects, which are
// destroyed); the refusal when it does not.
std::optional<Capability> kek_derivation_refused(const Session& s, KekDerivation d);

// Whether a refusal's return code (rv_name) says the token does not do the operation, as
// opposed to failing at it (a device error, a lost session): only the first leads to a fallback.
bool means_unsupported(const std::string& rv);

// The required features that are not there; empty when the token can keep the contract.
std::vector<Capability> missing_required(const std::vector<Capability>& caps);
// "transcript key (C_GenerateKeyPair CKM_EC_KEY_PAIR_GEN refused CKA_DECRYPT=false:
// CKR_GENERAL_ERROR); ..." for messages.
std::string describe_missing(const std::vector<Capability>& missing);

std::string mechanism_name(CK_MECHANISM_TYPE m);
std::string attribute_name(CK_ATTRIBUTE_TYPE a);

}  // namespace hsm::p11
