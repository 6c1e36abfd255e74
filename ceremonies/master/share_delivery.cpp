// Share delivery: a text file, a printed card or an OpenPGP message per custodian.
#include "ceremonies/master/share_delivery.h"

#include <fmt/format.h>

#include "ceremonies/master/shares.h"
#include "core/delivery/openpgp.h"
#include "core/error.h"

namespace hsm {

namespace {

// Secrets are written only into a directory that is its owner's alone (a file created there
// could otherwise be read, or swapped, by another account).
void check_private_dir(const char* option, const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    fail(Category::not_found, fmt::format("{} directory '{}' does not exist", option, dir.string()));
  const auto perms = std::filesystem::status(dir).permissions();
  if ((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) !=
      std::filesystem::perms::none)
    fail(Category::general, fmt::format("{} directory '{}' is open to group or others (mode "
                                        "{:04o}); run 'chmod 700 {}'", option, dir.string(),
                                        static_cast<unsigned>(perms) & 07777, dir.string()));
}

void check_new_file(const char* option, const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (std::filesystem::is_symlink(st))
    fail(Category::not_found, fmt::format("share file path '{}' is a symbolic link; share files "
                                          "are only written as new files: remove the link or "
                                          "choose another {}", path.string(), option));
  if (std::filesystem::exists(st))
    fail(Category::not_found,
         fmt::format("share file '{}' already exists; move it away first", path.string()));
}

std::filesystem::path armored_path(const std::filesystem::path& dir, const std::string& name) {
  return dir / (name + ".share.asc");
}

std::filesystem::path card_path(const std::filesystem::path& dir, const std::string& name) {
  return dir / (name + ".pdf");
}

}  // namespace

ShareDelivery::Method ShareDelivery::method_for(const std::string& custodian) const {
  if (encrypt_to.contains(custodian)) return Method::openpgp;
  if (cards) return Method::card;
  if (shares_out) return Method::file;
  return Method::terminal;
}

bool ShareDelivery::any_on_terminal(const std::vector<std::string>& custodians) const {
  for (const auto& c : custodians)
    if (method_for(c) == Method::terminal) return true;
  return false;
}

void ShareDelivery::validate(const std::vector<std::string>& custodians) const {
  for (const auto& [name, file] : encrypt_to)
    if (std::find(custodians.begin(), custodians.end(), name) == custodians.end())
      fail(Category::usage, fmt::format("--encrypt-to names '{}', who is not one of the "
                                        "custodians", name));
  if (!encrypt_to.empty() && !shares_out)
    fail(Category::usage, "--encrypt-to writes DIR/<custodian>.share.asc: give --shares-out DIR");
  if (shares_out) check_private_dir("--shares-out", *shares_out);
  if (cards) check_private_dir("--cards", *cards);
  for (const auto& c : custodians) {
    switch (method_for(c)) {
      case Method::openpgp:
        check_new_file("--shares-out", armored_path(*shares_out, c));
        delivery::inspect_key_file(encrypt_to.at(c));
        break;
      case Method::card:
        check_new_file("--cards", card_path(*cards, c));
        break;
      case Method::file:
        check_new_file("--shares-out", share_file_path(*shares_out, c));
        break;
      case Method::terminal:
        break;
    }
  }
}

std::map<std::string, std::filesystem::path> parse_encrypt_to(
    const std::vector<std::string>& items) {
  std::map<std::string, std::filesystem::path> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      fail(Category::usage, fmt::format("--encrypt-to '{}': expected CUSTODIAN=KEYFILE", item));
    if (!out.emplace(item.substr(0, eq), item.substr(eq + 1)).second)
      fail(Category::usage, fmt::format("--encrypt-to names custodian '{}' twice",
                                        item.substr(0, eq)));
  }
  return out;
}

Delivered deliver_share(const ShareDelivery& d, const std::string& name, int member,
                        const Secret& mnemonic, const CardFacts& facts) {
  switch (d.method_for(name)) {
    case ShareDelivery::Method::openpgp: {
      const delivery::OpenPgpMessage m = delivery::encrypt_to_key_file(d.encrypt_to.at(name),
                                                                       mnemonic);
      return {write_new_file(armored_path(*d.shares_out, name), as_bytes(m.armored), 0600),
              {{"openpgp", m.recipient.fingerprint}}};
    }
    case ShareDelivery::Method::card: {
      print::ShareCard card;
      card.custodian = name;
      card.workspace = facts.workspace;
      card.identifier = facts.identifier;
      card.member = member;
      card.members = facts.members;
      card.member_threshold = facts.threshold;
      card.kcv = facts.kcv;
      card.group = facts.group;
      card.groups = facts.groups;
      card.group_threshold = facts.group_threshold;
      card.issued = facts.issued;
      card.paper = d.paper;
      const Secret pdf = print::render_share_card(card, mnemonic);
      return {write_new_file(card_path(*d.cards, name), pdf.bytes(), 0600), "card"};
    }
    case ShareDelivery::Method::file:
      return {write_share_file(*d.shares_out, name, mnemonic), "file"};
    case ShareDelivery::Method::terminal:
      break;
  }
  fail(Category::general, "internal: deliver_share called for a share shown on the terminal");
}

}  // namespace hsm
