// How each custodian receives their share of a new set (master init, master reshare): exactly
// one copy each, by the first of these that applies to them:
//   --encrypt-to NAME=KEYFILE  DIR/<name>.share.asc in --shares-out: the share encrypted to that
//                              OpenPGP public key (core/delivery/openpgp.h);
//   --cards DIR                DIR/<name>.pdf: a printed share card (core/print/share_card.h);
//   --shares-out DIR           DIR/<name>.share: the words in a text file;
//   otherwise                  shown on the terminal, one custodian at a time.
// Every file is created new, mode 0600, in a directory that is its owner's alone.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/print/share_card.h"
#include "core/secure/secret.h"

namespace hsm {

struct ShareDelivery {
  std::optional<std::filesystem::path> shares_out;
  std::optional<std::filesystem::path> cards;
  print::Paper paper = print::Paper::a4;
  std::map<std::string, std::filesystem::path> encrypt_to;  // custodian -> public key file

  enum class Method { terminal, file, card, openpgp };
  Method method_for(const std::string& custodian) const;
  bool any_on_terminal(const std::vector<std::string>& custodians) const;
  // Every directory exists and is private, no file to be written exists, every --encrypt-to
  // name is a custodian and its key file holds one usable public key, --encrypt-to comes with
  // --shares-out. Error(usage), Error(not_found) or Error(general) naming the option.
  void validate(const std::vector<std::string>& custodians) const;
};

// "NAME=FILE" items of --encrypt-to; Error(usage) for a malformed or repeated name.
std::map<std::string, std::filesystem::path> parse_encrypt_to(const std::vector<std::string>& items);

// What a share card says besides the words (public facts of the set being issued).
struct CardFacts {
  std::string workspace;  // the token label
  std::string kcv;
  std::string issued;
  int identifier = 0;
  int threshold = 0;  // of the custodian's group
  int members = 0;    // in the custodian's group
  std::string group;  // "" for a single-level set
  int groups = 1;
  int group_threshold = 1;
};

struct Delivered {
  CreatedFile file;
  nlohmann::json record;  // for the transcript: "file", "card" or {"openpgp": fingerprint}
};

// Writes custodian `name`'s share (member `member`, 1-based) as `delivery` says; never for the
// terminal method.
Delivered deliver_share(const ShareDelivery& delivery, const std::string& name, int member,
                        const Secret& mnemonic, const CardFacts& facts);

}  // namespace hsm
