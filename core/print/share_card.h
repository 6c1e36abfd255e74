// A custodian's printed share card: one PDF page with the share's words numbered in columns, a
// QR code of the mnemonic, what the share belongs to (share set, member, group, thresholds, the
// workspace's KCV) and short instructions. Drawn with cairo (PDF surface) and libqrencode.
//
// The PDF holds the share: it comes back in a Secret, and the caller writes it as it writes a
// share file (0600, created new). cairo and libqrencode keep working copies of the text in
// ordinary heap memory while the page is drawn (they offer no hook to place them elsewhere);
// the QR symbol's modules are wiped before they are freed.
#pragma once

#include <string>

#include "core/secure/secret.h"

namespace hsm::print {

enum class Paper { a4, letter };

// "a4" or "letter"; Error(usage) otherwise.
Paper paper_named(std::string_view name);

// What the card says about its share. Nothing here is secret.
struct ShareCard {
  std::string custodian;
  std::string workspace;      // e.g. the token label, to tell cards of two workspaces apart
  int identifier = 0;         // the SLIP-0039 share set identifier
  int member = 0;             // 1-based member number in its group
  int members = 0;            // members in the group
  int member_threshold = 0;   // shares of the group needed
  std::string group;          // "" for a share set of one group
  int groups = 1;             // groups in the set
  int group_threshold = 1;    // groups needed
  std::string kcv;            // the workspace's key check value (hex)
  std::string issued;         // ISO 8601 date and time the set was issued
  Paper paper = Paper::a4;
};

// The card as a one-page PDF. `mnemonic` is the share's words separated by single spaces.
// Error(usage) for an empty mnemonic or one too long for a QR code.
Secret render_share_card(const ShareCard& card, const Secret& mnemonic);

}  // namespace hsm::print
